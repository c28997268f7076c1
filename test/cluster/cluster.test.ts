import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.ts';
import { isTesseraError } from '../../src/errors.ts';
import { compactedPast } from './node-log.ts';
import { FAST, startCluster, tempDir, track } from './harness.ts';

describe('Cluster', () => {
  it('starts N nodes under <dir>/node-<id>, elects a leader, and records cluster.json', async () => {
    const dir = tempDir();
    const cluster = await startCluster({ dir, nodes: 3 });
    expect(cluster.ids).toEqual([1, 2, 3]);
    const leader = await cluster.waitForLeader();
    expect(cluster.ids).toContain(leader);
    expect(cluster.leader()).toBe(leader);
    for (const id of cluster.ids) {
      expect(fs.existsSync(path.join(dir, `node-${id}`, 'log'))).toBe(true);
      expect(fs.existsSync(path.join(dir, `node-${id}`, 'state'))).toBe(true);
      expect(cluster.isUp(id)).toBe(true);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8'));
    expect(manifest).toMatchObject({ clusterId: cluster.id, nodes: 3 });
  });

  it('stops and restarts single nodes; a new leader takes over from a stopped one', async () => {
    const cluster = await startCluster();
    const kv = cluster.client();
    await kv.put('before', '1');
    const old = await cluster.waitForLeader();
    await cluster.stopNode(old);
    await cluster.stopNode(old); // stopping a stopped node is a no-op
    expect(cluster.isUp(old)).toBe(false);
    expect(cluster.node(old)).toBeNull();
    const next = await cluster.waitForLeader();
    expect(next).not.toBe(old);
    await kv.put('during', '2');
    await cluster.startNode(old);
    await cluster.startNode(old); // starting a running node is a no-op
    expect(cluster.isUp(old)).toBe(true);
    // The restarted node catches up: a local read on it eventually sees the write made while it was down.
    for (let i = 0; i < 100 && (await kv.getString('during', { consistency: 'local', node: old })) === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await kv.getString('during', { consistency: 'local', node: old })).toBe('2');
  });

  it('a node that missed compacted entries catches up through a streamed snapshot', async () => {
    const dir = tempDir();
    const cluster = await startCluster({ dir, snapshotEvery: 20, snapshotChunkBytes: 512 });
    const kv = cluster.client();
    await kv.put('first', '1');
    const leader = await cluster.waitForLeader();
    const behind = cluster.ids.find((i) => i !== leader)!;
    const stoppedAt = cluster.node(behind)!.status().lastIndex;
    await cluster.stopNode(behind);
    for (let i = 0; i < 80; i++) await kv.put(`s/${i}`, 'x'.repeat(100));
    await compactedPast(cluster.node(leader)!, stoppedAt + 1);
    await cluster.startNode(behind);
    const local = async () => {
      const out = [];
      for await (const e of kv.range('s/', { consistency: 'local', node: behind })) out.push(e);
      return out.length;
    };
    for (let i = 0; i < 300 && (await local()) < 80; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await local()).toBe(80);
    // The image was installed as a fresh LMDB environment (lmdb-kv.ts: CURRENT names it).
    const current = fs.readFileSync(path.join(dir, `node-${behind}`, 'state', 'CURRENT'), 'utf8').trim();
    expect(current).not.toBe('state-1');
  });

  it('close() is idempotent and every later operation fails with CLOSED', async () => {
    const cluster = await startCluster();
    const kv = cluster.client();
    await kv.put('k', 'v');
    const closing = cluster.close();
    expect(cluster.close()).toBe(closing);
    await closing;
    expect(cluster.closed).toBe(true);
    const closed = (f: () => unknown) => {
      try {
        const r = f();
        return r instanceof Promise ? r.then(() => 'resolved', (e: unknown) => e) : 'returned';
      } catch (e) {
        return e;
      }
    };
    for (const op of [
      () => cluster.client(),
      () => cluster.leader(),
      () => cluster.stopNode(1),
      () => cluster.startNode(1),
      () => cluster.waitForLeader(100),
      () => cluster.node(1),
      () => kv.put('k', 'v2'),
      () => kv.get('k'),
      () => kv.range(''),
      () => kv.watch(''),
      () => kv.revision(),
    ]) {
      const e = await closed(op);
      expect(isTesseraError(e, 'CLOSED'), String(e)).toBe(true);
    }
  });

  it('fails pending client operations with CLOSED when the cluster closes', async () => {
    const cluster = await startCluster();
    const kv = cluster.client();
    await cluster.waitForLeader();
    // Two of three nodes down: no quorum, so this write stays pending until the close.
    const leader = cluster.leader();
    for (const id of cluster.ids.filter((i) => i !== leader)) await cluster.stopNode(id);
    // Caught at once: the rejection comes while close() still awaits the nodes, and a rejection
    // nobody handles by then is reported as unhandled.
    const pending = kv.put('k', 'v').then(
      () => null,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 50));
    await cluster.close();
    expect(await pending).toMatchObject({ code: 'CLOSED' });
  });

  it('restarts the whole cluster from its directories with all data', async () => {
    const dir = tempDir();
    const first = await startCluster({ dir });
    const kv = first.client();
    for (let i = 0; i < 30; i++) await kv.put(`key/${i}`, `value ${i}`);
    await kv.delete('key/7');
    const id = first.id;
    await first.close();

    const second = await startCluster({ dir });
    expect(second.id).toBe(id);
    const kv2 = second.client();
    const all = [];
    for await (const e of kv2.range('key/')) all.push(new TextDecoder().decode(e.key));
    expect(all).toHaveLength(29);
    expect(all).not.toContain('key/7');
    expect(await kv2.getString('key/29')).toBe('value 29');
    await kv2.put('key/30', 'after restart');
    expect(await kv2.getString('key/30')).toBe('after restart');
  });

  it('refuses a directory of another cluster id or another size with IDENTITY_MISMATCH', async () => {
    const dir = tempDir();
    const c = await startCluster({ dir, clusterId: 'alpha', nodes: 3 });
    await c.close();
    for (const wrong of [{ clusterId: 'beta', nodes: 3 }, { clusterId: 'alpha', nodes: 5 }, { nodes: 1 }]) {
      const err = await Cluster.start({ dir, ...FAST, ...wrong }).then(track, (e: unknown) => e);
      expect(isTesseraError(err, 'IDENTITY_MISMATCH'), String(err)).toBe(true);
    }
    // Same id, same size, or no id at all (taken from cluster.json): fine.
    const again = await startCluster({ dir, nodes: 3 });
    expect(again.id).toBe('alpha');
  });

  it('refuses a node directory that belongs to another cluster', async () => {
    const a = tempDir();
    const bDir = tempDir();
    await (await startCluster({ dir: a, clusterId: 'a', nodes: 1 })).close();
    // Move cluster a's node into cluster b's directory.
    fs.renameSync(path.join(a, 'node-1'), path.join(bDir, 'node-1'));
    const err = await Cluster.start({ dir: bDir, clusterId: 'b', nodes: 1, ...FAST }).then(track, (e: unknown) => e);
    expect(isTesseraError(err, 'IDENTITY_MISMATCH'), String(err)).toBe(true);
  });

  it('rejects bad options', async () => {
    await expect(Cluster.start({ nodes: 0, dir: tempDir() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, 'not a directory');
    await expect(Cluster.start({ nodes: 1, dir: file })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/cannot be a data directory/) });
    await expect(Cluster.start({ nodes: 1, dir: path.join(file, 'below') })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Bad tuning and cluster ids are refused before anything is written: the directory stays unmade.
    const unmade = path.join(tempDir(), 'unmade');
    const badOptions: [object, RegExp][] = [
      [{ tickMs: 0 }, /tickMs must be a number of milliseconds/],
      [{ tickMs: Number.NaN }, /tickMs/],
      [{ tickMs: 2 ** 31 }, /tickMs/],
      [{ requestTimeoutMs: -1 }, /requestTimeoutMs/],
      [{ snapshotEvery: 0 }, /snapshotEvery must be an integer/],
      [{ snapshotChunkBytes: 0 }, /snapshotChunkBytes must be an integer in 1\.\.4194304/],
      [{ snapshotChunkBytes: 8 * 1024 * 1024 }, /snapshotChunkBytes/],
      [{ snapshotWindow: 65 }, /snapshotWindow must be an integer in 1\.\.64/],
      [{ electionTick: Number.NaN }, /raft config: electionTick/],
      [{ raft: { preVotes: false } }, /raft config: unknown option preVotes/],
      [{ clusterId: 42 }, /cluster id must be a string/],
      [{ clusterId: 'x'.repeat(257) }, /cluster id must have 1 to 256 UTF-8 bytes/],
      [{ clusterId: 'a\ud800' }, /lone surrogate/],
    ];
    for (const [bad, message] of badOptions) {
      await expect(Cluster.start({ nodes: 1, dir: unmade, ...bad } as never), JSON.stringify(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
    }
    expect(fs.existsSync(unmade)).toBe(false);
    const c = await startCluster({ nodes: 1 });
    await expect(c.stopNode(9)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
