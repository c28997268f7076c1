import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/client/client.ts';
import { decodeMsgpack, encodeValue } from '../../src/client/values.ts';
import type { Cluster } from '../../src/cluster/cluster.ts';
import { MAX_ENTRY_BYTES, MAX_KEY_BYTES } from '../../src/limits.ts';
import { decodeCommand } from '../../src/store/kv-command.ts';
import { MAX_CLIENT_SESSIONS } from '../../src/store/kv-limits.ts';
import { utf8 } from '../../src/util/bytes.ts';
import { b, s, startCluster, startSuiteCluster } from '../cluster/harness.ts';
import { logEntries } from '../cluster/node-log.ts';

/** A fresh cluster per test keeps them independent; ~300 ms each. */
async function setup(): Promise<{ cluster: Cluster; kv: Client }> {
  const cluster = await startCluster();
  await cluster.waitForLeader();
  return { cluster, kv: cluster.client() };
}

async function keys(it: AsyncIterable<{ key: Uint8Array }>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(s(e.key));
  return out;
}

describe('Client: put/get', () => {
  it('reads its writes at every consistency level, from every node', async () => {
    const { cluster, kv } = await setup();
    const put = await kv.put('k', 'v1', { prevKv: true });
    expect(put.prev).toBeNull();
    const put2 = await kv.put('k', 'v2', { prevKv: true });
    expect(put2.revision).toBeGreaterThan(put.revision);
    expect(s(put2.prev!.value)).toBe('v1');
    // Without prevKv a put answers its revision alone.
    const put3 = await kv.put('k', 'v2');
    expect(put3).toEqual({ revision: put3.revision });
    expect(put3.revision).toBeGreaterThan(put2.revision);

    for (const consistency of ['linearizable', 'lease'] as const) {
      for (const node of cluster.ids) {
        const e = await kv.get('k', { consistency, node });
        expect(e && s(e.value)).toBe('v2');
        expect(e).toMatchObject({ version: 3, createRevision: put.revision, modRevision: put3.revision });
      }
    }
    // A local read on the leader, which applied the write before acknowledging it.
    expect(await kv.getString('k', { consistency: 'local', node: cluster.leader() })).toBe('v2');
    expect(await kv.get('absent')).toBeNull();
    expect(await kv.getString('absent', { consistency: 'local' })).toBeNull();
    expect(await kv.revision()).toBeGreaterThanOrEqual(put3.revision);
  });

  it('hands out keys and values that own their memory (no view keeps a pool or a frame alive)', async () => {
    const { kv } = await setup();
    await kv.put('owned', 'v1');
    const put = await kv.put('owned', 'v2', { prevKv: true });
    const got = await kv.get('owned');
    const page: { key: Uint8Array; value: Uint8Array }[] = [];
    for await (const e of kv.range('own')) page.push(e);
    for (const bytes of [put.prev!.value, put.prev!.key, got!.value, got!.key, page[0]!.value, page[0]!.key]) {
      expect(bytes.byteOffset).toBe(0);
      expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
    }
  });

  it('stores bytes as is, strings as UTF-8, and everything else as MessagePack', async () => {
    const { kv } = await setup();
    await kv.put('bytes', new Uint8Array([0, 255, 1]));
    await kv.put(b('buffer'), Buffer.from('buf'));
    await kv.put('string', 'héllo ✓');
    const obj = { lr: 0.01, layers: [64, 128], name: 'resnet', ok: true, nothing: null };
    await kv.put('object', obj);
    await kv.put('number', 42);
    expect([...(await kv.get('bytes'))!.value]).toEqual([0, 255, 1]);
    expect(await kv.getString('buffer')).toBe('buf');
    expect(await kv.getString('string')).toBe('héllo ✓');
    expect((await kv.get('string'))!.value).toEqual(new TextEncoder().encode('héllo ✓'));
    expect(await kv.getMsgpack('object')).toEqual(obj);
    expect(await kv.getMsgpack('number')).toBe(42);
    expect(await kv.getMsgpack('absent')).toBeUndefined();
    expect(decodeMsgpack((await kv.get('object'))!.value)).toEqual(obj);
    await expect(kv.put('u', undefined)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await kv.put('bad-utf8', new Uint8Array([0xff, 0xfe]));
    await expect(kv.getString('bad-utf8')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('runs many writes concurrently over its session pool', async () => {
    const { kv } = await setup();
    const n = 60;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => kv.put(`c/${i}`, String(i))));
    expect(new Set(results.map((r) => r.revision)).size).toBe(n);
    expect(await keys(kv.range('c/'))).toHaveLength(n);
  });
});

describe('Client: delete, cas, txn', () => {
  it('deletes keys and ranges', async () => {
    const { kv } = await setup();
    await kv.put('a', '1');
    const d = await kv.delete('a');
    expect(d).toMatchObject({ deleted: true });
    expect(s(d.prev!.value)).toBe('1');
    expect(await kv.delete('a')).toMatchObject({ deleted: false, prev: null });
    for (const k of ['p/1', 'p/2', 'p/3', 'q/1']) await kv.put(k, k);
    expect(await kv.deleteRange('p/')).toMatchObject({ deleted: 3 });
    expect(await keys(kv.range(''))).toEqual(['q/1']);
    await kv.put('r/1', '1');
    await kv.put('r/5', '5');
    expect(await kv.deleteRange('r/0', { end: 'r/3' })).toMatchObject({ deleted: 1 });
    expect(await keys(kv.range('r/'))).toEqual(['r/5']);
  });

  it('compares and swaps on value, absence, version, modRevision, createRevision', async () => {
    const { kv } = await setup();
    expect(await kv.cas('k', null, 'v1')).toMatchObject({ succeeded: true, prev: null });
    const fail = await kv.cas('k', null, 'nope');
    expect(fail.succeeded).toBe(false);
    expect(!fail.succeeded && s(fail.current!.value)).toBe('v1');
    expect((await kv.cas('k', 'v1', 'v2')).succeeded).toBe(true);
    expect((await kv.cas('k', 'v1', 'v3')).succeeded).toBe(false);
    const cur = (await kv.get('k'))!;
    expect((await kv.cas('k', { version: 1 }, 'x')).succeeded).toBe(false);
    expect((await kv.cas('k', { version: cur.version }, 'v3')).succeeded).toBe(true);
    const cur3 = (await kv.get('k'))!;
    expect((await kv.cas('k', { modRevision: cur.modRevision }, 'x')).succeeded).toBe(false);
    expect((await kv.cas('k', { modRevision: cur3.modRevision }, 'v4')).succeeded).toBe(true);
    expect((await kv.cas('k', { createRevision: cur.createRevision }, 'v5')).succeeded).toBe(true);
    expect((await kv.cas('other', { version: 0 }, 'new')).succeeded).toBe(true);
    // MessagePack values compare by their encoding; a revision-shaped object needs encodeValue.
    await kv.put('m', { version: 3 });
    expect((await kv.cas('m', encodeValue({ version: 3 }), 'swapped')).succeeded).toBe(true);
    expect(await kv.getString('k')).toBe('v5');
  });

  it('runs txns all or nothing, at one revision, with per-op results', async () => {
    const { kv } = await setup();
    await kv.put('acct/a', '10');
    const ok = await kv.txn({
      compares: [
        { key: 'acct/a', target: 'value', op: '=', value: '10' },
        { key: 'acct/b', target: 'version', op: '=', value: 0 },
      ],
      success: [
        { op: 'put', key: 'acct/a', value: '5' },
        { op: 'put', key: 'acct/b', value: '5' },
        { op: 'get', key: 'acct/a' },
      ],
      failure: [{ op: 'put', key: 'failed', value: 'yes' }],
    });
    expect(ok.succeeded).toBe(true);
    expect(ok.results.map((r) => r.op)).toEqual(['put', 'put', 'get']);
    const got = ok.results[2]!;
    expect(got.op === 'get' && s(got.value!.value)).toBe('5');
    const a = (await kv.get('acct/a'))!;
    const bb = (await kv.get('acct/b'))!;
    expect(a.modRevision).toBe(ok.revision);
    expect(bb.modRevision).toBe(ok.revision);

    const no = await kv.txn({
      compares: [{ key: 'acct/a', target: 'value', op: '=', value: '10' }],
      success: [{ op: 'delete', key: 'acct/a' }],
      failure: [{ op: 'put', key: 'failed', value: 'yes' }, { op: 'deleteRange', start: 'acct/' }],
    });
    expect(no.succeeded).toBe(false);
    expect(no.results).toEqual([{ op: 'put', prev: null }, { op: 'deleteRange', deleted: 2 }]);
    expect(await kv.getString('failed')).toBe('yes');
    expect(await kv.get('acct/a')).toBeNull();
  });
});

describe('Client: range', () => {
  let cluster: Cluster;
  let kv: Client;
  const all = Array.from({ length: 45 }, (_, i) => `item/${String(i).padStart(3, '0')}`);
  beforeAll(async () => {
    cluster = await startSuiteCluster();
    kv = cluster.client();
    await Promise.all(all.map((k) => kv.put(k, k)));
    await kv.put('itemz', 'not in the prefix');
    await kv.put('other/1', 'x');
  });

  it('pages through a prefix in key order', async () => {
    expect(await keys(kv.range('item/', { pageSize: 7 }))).toEqual(all);
    expect(await keys(kv.range('item/', { pageSize: 7, consistency: 'local' }))).toEqual(all);
    expect(await keys(kv.range('item/', { pageSize: 1000, consistency: 'lease' }))).toEqual(all);
  });

  it('honours limit, explicit end, unbounded end, and the empty prefix', async () => {
    expect(await keys(kv.range('item/', { pageSize: 4, limit: 10 }))).toEqual(all.slice(0, 10));
    expect(await keys(kv.range('item/010', { end: 'item/020', pageSize: 3 }))).toEqual(all.slice(10, 20));
    expect(await keys(kv.range('item/040', { end: null }))).toEqual([...all.slice(40), 'itemz', 'other/1']);
    expect(await keys(kv.range(''))).toHaveLength(all.length + 2);
    expect(await keys(kv.range('nothing/'))).toEqual([]);
  });

  it('returns entries with their revisions, and fails over between pages', async () => {
    const first = await kv.range('item/000').next();
    expect(first.done).toBe(false);
    expect(first.value).toMatchObject({ version: 1 });
    expect(s(first.value!.value)).toBe('item/000');
    // Stop the node serving the pages mid-iteration: the rest comes from another node, in order, once.
    const it = kv.range('item/', { pageSize: 5, node: 1 });
    const got: string[] = [];
    for await (const e of it) {
      got.push(s(e.key));
      if (got.length === 7) await cluster.stopNode(1);
    }
    expect(got).toEqual(all);
    await cluster.startNode(1);
  });

  it('rejects bad sizes at once', () => {
    expect(() => kv.range('item/', { pageSize: 0 })).toThrow(/INVALID_ARGUMENT/);
    expect(() => kv.range('item/', { limit: -1 })).toThrow(/INVALID_ARGUMENT/);
  });
});

describe('Client: input errors are raised before anything is proposed', () => {
  it('EMPTY_KEY, KEY_TOO_LONG, ENTRY_TOO_LARGE', async () => {
    const { cluster, kv } = await setup();
    await kv.put('warm', 'up');
    const leader = cluster.node(cluster.leader())!;
    const before = leader.status().lastIndex;
    const longKey = 'k'.repeat(MAX_KEY_BYTES + 1);
    const huge = new Uint8Array(MAX_ENTRY_BYTES + 1);
    const cases: [Promise<unknown>, string][] = [
      [kv.put('', 'v'), 'EMPTY_KEY'],
      [kv.put(new Uint8Array(0), 'v'), 'EMPTY_KEY'],
      [kv.get(''), 'EMPTY_KEY'],
      [kv.delete(''), 'EMPTY_KEY'],
      [kv.put(longKey, 'v'), 'KEY_TOO_LONG'],
      [kv.get(longKey), 'KEY_TOO_LONG'],
      [kv.cas(longKey, null, 'v'), 'KEY_TOO_LONG'],
      [kv.txn({ compares: [], success: [{ op: 'put', key: longKey, value: 'v' }] }), 'KEY_TOO_LONG'],
      [kv.put('big', huge), 'ENTRY_TOO_LARGE'],
      [kv.txn({ compares: [], success: [{ op: 'put', key: 'a', value: huge.subarray(0, MAX_ENTRY_BYTES / 2 + 1) }, { op: 'put', key: 'b', value: huge.subarray(0, MAX_ENTRY_BYTES / 2) }] }), 'ENTRY_TOO_LARGE'],
    ];
    for (const [p, code] of cases) await expect(p).rejects.toMatchObject({ code });
    expect(() => kv.watch('', { exact: true })).toThrow(/EMPTY_KEY/);
    expect(() => kv.range(longKey)).toThrow(/KEY_TOO_LONG/);
    // A key of exactly the limit is fine, and so is an entry just under the limit.
    await kv.put('k'.repeat(MAX_KEY_BYTES), 'v');
    // Only that put was proposed. On a loaded machine a new leader's empty entry, or the put
    // retried under its session, may also be in the log: every command there must be that put.
    const proposed = logEntries(leader, before + 1, leader.status().lastIndex + 1).filter((e) => e.data.length > 0);
    expect(proposed.length).toBeGreaterThanOrEqual(1);
    for (const e of proposed) expect(decodeCommand(e.data)).toMatchObject({ op: 'put', key: utf8('k'.repeat(MAX_KEY_BYTES)), value: utf8('v') });
    await kv.put('big', huge.subarray(0, MAX_ENTRY_BYTES - 1024));
    expect((await kv.get('big'))!.value.length).toBe(MAX_ENTRY_BYTES - 1024);
  });

  it('INVALID_ARGUMENT at once for malformed arguments a JavaScript caller can pass', async () => {
    const { cluster, kv } = await setup();
    await kv.put('warm', 'up');
    const leader = cluster.node(cluster.leader())!;
    const before = leader.status().lastIndex;
    const loose = kv as unknown as { txn(spec: unknown): Promise<unknown> };
    const cases: [() => Promise<unknown>, RegExp][] = [
      // A lone surrogate: UTF-8 would store U+FFFD, so '\ud800' and '\ufffd' would name one key.
      [() => kv.put('\ud800', 'v'), /string key must be well-formed/],
      [() => kv.get('a\udc00'), /string key must be well-formed/],
      [() => kv.put('k', 'tail \ud83d'), /string value must be well-formed/],
      [() => kv.cas('k', 'x\udfff', 'v'), /string value must be well-formed/],
      // txn specs not shaped as TxnSpec.
      [() => loose.txn(null), /txn spec must be an object, got null/],
      [() => loose.txn({ success: [] }), /txn compares must be an array, got undefined/],
      [() => loose.txn({ compares: [null] }), /txn compares must hold objects, got null/],
      [() => loose.txn({ compares: [], failure: 'put' }), /txn failure must be an array, got string/],
      [() => loose.txn({ compares: [{ key: 'k', target: 'version', op: '=', value: '1' }] }), /non-negative integer, got "1"/],
      // A range that ends at or before its start, the same for every operation that takes one.
      [() => kv.deleteRange('m', { end: 'a' }), /range end must be after its start/],
      [() => kv.txn({ compares: [], success: [{ op: 'deleteRange', start: 'm', end: 'm' }] }), /range end must be after its start/],
      // A read from a node this client does not have (a stopped one is fine: it fails over).
      [() => kv.get('warm', { node: 9 }), /no node 9 among this client's nodes \(1, 2, 3\)/],
    ];
    for (const [op, message] of cases) await expect(op()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
    expect(() => kv.range('m', { end: 'a' })).toThrow(/range end must be after its start/);
    expect(() => kv.range('', { node: 0 })).toThrow(/no node 0/);
    expect(() => kv.watch('\udc00')).toThrow(/well-formed/);
    expect(leader.status().lastIndex).toBe(before);
    // Client options: a client id that would encode like another, more sessions than one
    // client may hold, a timeout no timer can wait for.
    expect(() => cluster.client({ clientId: 'a\ud800' })).toThrow(/client id must be well-formed/);
    expect(() => cluster.client({ sessions: MAX_CLIENT_SESSIONS + 1 })).toThrow(/sessions must be an integer in 1\.\.1000/);
    expect(() => cluster.client({ timeoutMs: 2 ** 31 })).toThrow(/timeoutMs must be a number of milliseconds/);
    await expect(kv.put('k', 'v', { timeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    cluster.client({ sessions: MAX_CLIENT_SESSIONS });
    // Surrogate pairs are well-formed, and read back as written.
    await kv.put('emoji/😀', '😀');
    expect(await kv.getString('emoji/😀')).toBe('😀');
  });

  it('TIMEOUT when no quorum answers in time', async () => {
    const { cluster, kv } = await setup();
    const leader = cluster.leader();
    for (const id of cluster.ids.filter((i) => i !== leader)) await cluster.stopNode(id);
    const t0 = performance.now();
    await expect(kv.put('k', 'v', { timeoutMs: 300 })).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/outcome is unknown/) });
    await expect(kv.get('k', { timeoutMs: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('a closed client fails every operation with CLOSED, while other clients go on', async () => {
    const { cluster, kv } = await setup();
    await kv.close();
    await kv.close();
    expect(kv.closed).toBe(true);
    await expect(kv.put('k', 'v')).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(kv.get('k')).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(kv.txn({ compares: [] })).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => kv.watch('x')).toThrow(/CLOSED/);
    const other = cluster.client();
    await other.put('k', 'v');
    expect(await other.getString('k')).toBe('v');
  });
});
