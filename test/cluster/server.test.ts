/**
 * Three Servers in this process on loopback ports, and the remote client: the whole API
 * (put/get/cas/txn/range/watch, linearizable reads from every node, the tensor layer) through
 * connect(), leader discovery from one address, a leader stopped under a stream of writes with
 * every write applied exactly once, a wrong secret refused, and garbage on the port ignored.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.ts';
import type { RemoteClient } from '../../src/client/remote-client.ts';
import { summarize } from '../../src/cli/status-table.ts';
import type { ClientOptions } from '../../src/client/types.ts';
import { fromTypedArray } from '../../src/tensor/dtype.ts';
import { TensorStore } from '../../src/tensor/tensor-store.ts';
import { CLUSTER_ID, HOST, SECRET, ServerSet } from './server-harness.ts';

const CLIENT: ClientOptions = { attemptTimeoutMs: 1000, timeoutMs: 20_000, backoff: { minMs: 10, maxMs: 200 }, watchIdleMs: 200 };
const dec = new TextDecoder();
const str = (b: Uint8Array) => dec.decode(b);

function client(set: ServerSet, endpoints = set.endpoints.slice(0, 1), secret: Uint8Array = SECRET): Promise<RemoteClient> {
  return connect({ endpoints, secret, clusterId: CLUSTER_ID, ...CLIENT });
}

describe('remote client against 3 servers', () => {
  let set: ServerSet;
  let kv: RemoteClient;
  beforeAll(async () => {
    set = await ServerSet.start(3);
    await set.waitForLeader();
    kv = await client(set);
  });
  afterAll(async () => {
    await kv?.close();
    await set?.close();
  });

  it('finds every member from one address and the leader', async () => {
    expect(kv.remotes.map((r) => r.id)).toEqual([1, 2, 3]);
    await kv.put('hello', 'world');
    expect(kv.leader).toBe(set.leader());
    // Connections to the members found through the first one may still be opening (a busy CI
    // machine): a node is unreachable only if it stays so.
    let summary = summarize(await kv.nodeStatus());
    for (let i = 0; i < 50 && summary.nodes.some((n) => n.role === 'unreachable'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      summary = summarize(await kv.nodeStatus());
    }
    expect(summary).toMatchObject({ clusterId: CLUSTER_ID, leader: set.leader(), members: [1, 2, 3] });
    for (const n of summary.nodes) expect(n.role, `node ${n.id}: ${n.error}`).not.toBe('unreachable');
  });

  it('put, get, cas, txn, delete and range behave as the embedded client', async () => {
    const p1 = await kv.put('k/a', 'v1');
    const p2 = await kv.put('k/a', 'v2', { prevKv: true });
    expect(str(p2.prev!.value)).toBe('v1');
    expect(await kv.getString('k/a')).toBe('v2');
    // Linearizable reads from every node see the write.
    for (const node of [1, 2, 3]) expect(await kv.getString('k/a', { node })).toBe('v2');
    expect(await kv.cas('k/a', { modRevision: p1.revision }, 'nope')).toMatchObject({ succeeded: false });
    expect(await kv.cas('k/a', { modRevision: p2.revision }, 'v3')).toMatchObject({ succeeded: true });
    const t = await kv.txn({
      compares: [{ key: 'k/a', target: 'value', op: '=', value: 'v3' }],
      success: [
        { op: 'put', key: 'k/b', value: 'b' },
        { op: 'get', key: 'k/a' },
      ],
      failure: [{ op: 'delete', key: 'k/a' }],
    });
    expect(t.succeeded).toBe(true);
    expect(t.results[1]).toMatchObject({ op: 'get' });
    for (let i = 0; i < 25; i++) await kv.put(`r/${String(i).padStart(2, '0')}`, `v${i}`);
    const keys: string[] = [];
    for await (const e of kv.range('r/', { pageSize: 7 })) keys.push(str(e.key));
    expect(keys).toHaveLength(25);
    expect(keys[0]).toBe('r/00');
    expect(await kv.deleteRange('r/')).toMatchObject({ deleted: 25 });
    expect(await kv.delete('k/b')).toMatchObject({ deleted: true });
    expect(await kv.get('k/b')).toBeNull();
    expect(await kv.revision()).toBeGreaterThanOrEqual(kv.lastRevision - 1);
  });

  it('watches a prefix', async () => {
    const w = kv.watch('w/');
    const first = w.next();
    await kv.put('x/ignored', '0');
    await kv.put('w/1', 'a');
    await kv.delete('w/1');
    const e1 = (await first).value;
    const e2 = (await w.next()).value;
    w.close();
    expect([e1.type, str(e1.key), str(e1.value)]).toEqual(['put', 'w/1', 'a']);
    expect([e2.type, str(e2.key)]).toEqual(['delete', 'w/1']);
  });

  it('saves and loads a model through the tensor layer', async () => {
    const models = new TensorStore(kv);
    const weights = fromTypedArray('F32', [30, 100], Float32Array.from({ length: 3000 }, (_, i) => Math.sin(i)));
    const bias = fromTypedArray('I32', [3], Int32Array.from([1, -2, 3]));
    const saved = await models.save('tiny', { weights, bias }, { metadata: { by: 'remote' }, chunkBytes: 4096 });
    expect(saved.version).toBe(1);
    // From a follower too: chunk reads spread over replicas.
    const follower = [1, 2, 3].find((id) => id !== set.leader())!;
    for (const node of [undefined, follower]) {
      const loaded = await models.load('tiny', node === undefined ? {} : { node });
      expect(loaded.metadata).toEqual({ by: 'remote' });
      expect(loaded.tensors.get('weights')).toStrictEqual(weights);
      expect(loaded.tensors.get('bias')).toStrictEqual(bias);
    }
  });

  it('refuses lease reads unless the servers were started with a drift bound', async () => {
    await kv.put('lease/k', 'v');
    await expect(kv.get('lease/k', { consistency: 'lease' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const leased = await ServerSet.start(3, { leaseReads: { maxClockDrift: 0.05 } });
    try {
      await leased.waitForLeader();
      const c = await client(leased);
      try {
        await c.put('lease/k', 'v');
        expect(await c.getString('lease/k', { consistency: 'lease' })).toBe('v');
      } finally {
        await c.close();
      }
    } finally {
      await leased.close();
    }
  });

  it('refuses a malformed command with INVALID_ARGUMENT before it enters the log: no node stops', async () => {
    await kv.put('before-garbage', 'x');
    const leader = kv.remotes.find((r) => r.id === set.leader())!;
    for (const garbage of [new Uint8Array([0xff, 1, 2]), new Uint8Array(0), new TextEncoder().encode('not a command')]) {
      await expect(leader.propose(garbage)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    // Had any entered the log, its apply would have stopped all three nodes.
    await kv.put('after-garbage', 'y');
    for (const node of [1, 2, 3]) expect(await kv.getString('after-garbage', { node })).toBe('y');
  });

  it('refuses a wrong secret', async () => {
    await expect(client(set, set.endpoints, new TextEncoder().encode('not the cluster secret, 32 bytes'))).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });

  it('shrugs off garbage on the shared port: clients and peers carry on', async () => {
    for (const port of set.endpoints.map((e) => Number(e.split(':')[1]))) {
      const s = net.connect({ host: HOST, port });
      s.on('error', () => {});
      s.write(Buffer.from([0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 0xc1]));
      await new Promise<void>((r) => s.once('close', () => r()));
    }
    await kv.put('after-garbage', 'ok');
    for (const node of [1, 2, 3]) expect(await kv.getString('after-garbage', { node })).toBe('ok');
  });
});

describe('failover', () => {
  it('a leader stopped under a stream of writes: every write succeeds and is applied exactly once', async () => {
    const set = await ServerSet.start(3);
    const kv = await client(set, set.endpoints);
    try {
      await set.waitForLeader();
      const PUTS = 30;
      let acked = 0;
      let inFlight = 0;
      const writer = async (w: number) => {
        for (let i = 0; i < PUTS; i++) {
          inFlight++;
          await kv.put(`ctr/${w}`, `${i}`);
          inFlight--;
          acked++;
        }
      };
      const writers = [0, 1, 2].map(writer);
      while (acked < 15) await new Promise((r) => setTimeout(r, 2));
      const old = set.leader();
      const lostAnswers = inFlight;
      await set.stopNode(old); // client connections first: writes in flight lose their answers
      expect(lostAnswers).toBeGreaterThan(0);
      await Promise.all(writers);
      const now = await set.waitForLeader();
      expect(now).not.toBe(old);
      // A retried put applied twice would have bumped the version past PUTS.
      for (const w of [0, 1, 2]) expect(await kv.get(`ctr/${w}`)).toMatchObject({ version: PUTS });
      await set.startNode(old);
      const revision = await kv.revision();
      for (const w of [0, 1, 2]) {
        const e = await kv.get(`ctr/${w}`, { node: old, consistency: 'local' });
        expect(e).toMatchObject({ version: PUTS });
        expect(e!.modRevision).toBeLessThanOrEqual(revision);
      }
    } finally {
      await kv.close();
      await set.close();
    }
  });
});
