import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../src/cluster/cluster.ts';
import { Node } from '../../src/cluster/node.ts';
import { isTesseraError } from '../../src/errors.ts';
import { InProcessNetwork } from '../../src/net/in-process-transport.ts';
import { encodeCommand } from '../../src/store/kv-command.ts';
import { LmdbLogStore } from '../../src/store/lmdb-log-store.ts';
import { b, FAST, s, sleep, tempDir } from './harness.ts';

const open: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((n) => n.close()));
});

async function single(dir: string, opts: { id?: number; clusterId?: string } = {}): Promise<Node> {
  const node = await Node.open({ id: opts.id ?? 1, dir, peers: [opts.id ?? 1], transport: new InProcessNetwork(), clusterId: opts.clusterId ?? 'c1', ...FAST });
  open.push(node);
  return node;
}

async function untilLeader(node: Node): Promise<void> {
  for (let i = 0; i < 200 && !node.isLeader(); i++) await sleep(5);
  expect(node.isLeader()).toBe(true);
}

describe('Node', () => {
  it('opens LMDB stores under <dir>/log and <dir>/state, elects itself, applies, and keeps data across close/open', async () => {
    const dir = tempDir();
    const node = await single(dir);
    await untilLeader(node);
    const res = await node.propose(encodeCommand({ op: 'put', key: b('k'), value: b('v') }));
    expect(res).toMatchObject({ ok: true });
    // The answer comes once the result is computed; local reads include it once it commits.
    await node.waitApplied((res as { revision: number }).revision - 1, 5_000);
    expect(s(node.get(b('k'))!.value)).toBe('v');
    await node.close();
    await node.close(); // idempotent
    expect(node.isUp).toBe(false);
    await expect(node.propose(new Uint8Array([1]))).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => node.get(b('k'))).toThrow(/CLOSED/);

    const again = await single(dir);
    expect(s(again.get(b('k'))!.value)).toBe('v');
    await untilLeader(again);
    await again.readBarrier();
  });

  it('fails pending requests with CLOSED when closed', async () => {
    const net = new InProcessNetwork();
    // Node 1 of a 3-node cluster alone: it can never elect a leader, so a barrier stays pending.
    const node = await Node.open({ id: 1, dir: tempDir(), peers: [1, 2, 3], transport: net, clusterId: 'c', ...FAST });
    open.push(node);
    const pending = node.waitApplied(0, 60_000);
    await node.close();
    expect(await pending).toBe(0); // waiters are released on close, their timers cleared
  });

  it('refuses a directory of another cluster or node with IDENTITY_MISMATCH', async () => {
    const dir = tempDir();
    await (await single(dir, { id: 1, clusterId: 'alpha' })).close();
    for (const wrong of [{ id: 1, clusterId: 'beta' }, { id: 2, clusterId: 'alpha' }]) {
      const err = await single(dir, wrong).catch((e: unknown) => e);
      expect(isTesseraError(err, 'IDENTITY_MISMATCH')).toBe(true);
      expect((err as Error).message).toMatch(/belongs to node 1 of cluster "alpha"/);
    }
    // The directory was left as it was: the rightful owner still opens it.
    await (await single(dir, { id: 1, clusterId: 'alpha' })).close();
  });

  it('refuses to restart with other peers: a node restarted alone would elect itself and split the cluster', async () => {
    const dir = tempDir();
    const open3 = (peers: number[]) => Node.open({ id: 3, dir, peers, transport: new InProcessNetwork(), clusterId: 'c', ...FAST });
    await (await open3([1, 2])).close();
    for (const peers of [[], [1], [1, 2, 4]]) {
      const err = await open3(peers).then((n) => n.close().then(() => 'opened'), (e: unknown) => e);
      expect(isTesseraError(err, 'IDENTITY_MISMATCH'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/a cluster of nodes 1, 2, 3, not of nodes/);
    }
    await (await open3([2, 1, 3])).close(); // the same voters, in any order, with itself or not
    // A node.json of an earlier version has no voters: it is trusted once, then recorded.
    fs.writeFileSync(path.join(dir, 'node.json'), `${JSON.stringify({ format: 1, clusterId: 'c', nodeId: 3 })}\n`);
    await (await open3([1, 2])).close();
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'node.json'), 'utf8'))).toMatchObject({ voters: [1, 2, 3] });
    await expect(open3([1])).rejects.toMatchObject({ code: 'IDENTITY_MISMATCH' });
  });

  it("refuses an in-process cluster's directory, and Cluster.start refuses a node's", async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'cluster.json'), '{}');
    await expect(single(dir)).rejects.toMatchObject({ code: 'IDENTITY_MISMATCH', message: expect.stringMatching(/cluster's directory/) });
    expect(fs.existsSync(path.join(dir, 'log'))).toBe(false);
    const nodeDir = tempDir();
    await (await single(nodeDir)).close();
    await expect(Cluster.start({ nodes: 1, dir: nodeDir, ...FAST })).rejects.toMatchObject({ code: 'IDENTITY_MISMATCH', message: expect.stringMatching(/single node's directory/) });
    expect(fs.existsSync(path.join(nodeDir, 'cluster.json'))).toBe(false);
  });

  it('maps the log store identity check to IDENTITY_MISMATCH too (node.json missing)', async () => {
    const dir = tempDir();
    const log = LmdbLogStore.open(path.join(dir, 'log'), { clusterId: 'other', nodeId: 1 });
    await log.close();
    const err = await single(dir, { clusterId: 'mine' }).catch((e: unknown) => e);
    expect(isTesseraError(err, 'IDENTITY_MISMATCH')).toBe(true);
  });

  it('refuses a directory already open in this process without disturbing the open node', async () => {
    const dir = tempDir();
    const net = new InProcessNetwork();
    const node = await Node.open({ id: 1, dir, peers: [1], transport: net, clusterId: 'c', ...FAST });
    open.push(node);
    const err = await Node.open({ id: 1, dir, peers: [1], transport: net, clusterId: 'c', ...FAST }).catch((e: unknown) => e);
    expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
    await untilLeader(node);
    expect(await node.propose(encodeCommand({ op: 'put', key: b('x'), value: b('1') }))).toMatchObject({ ok: true });
  });

  it('refuses a proposal that is not a command (INVALID_ARGUMENT) instead of logging it and stopping at its apply', async () => {
    const node = await single(tempDir());
    await untilLeader(node);
    const before = node.status().lastIndex;
    await expect(node.propose(new Uint8Array([0xff, 0]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(node.status().lastIndex).toBe(before);
    expect(node.isUp).toBe(true);
    expect(await node.propose(encodeCommand({ op: 'put', key: b('x'), value: b('1') }))).toMatchObject({ ok: true });
  });

  it('rejects bad options', async () => {
    const net = new InProcessNetwork();
    await expect(Node.open({ id: 0, dir: tempDir(), peers: [], transport: net, clusterId: 'c' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(Node.open({ id: 1, dir: tempDir(), peers: [1], transport: net, clusterId: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // The same checks as Cluster.start, before the directory is made.
    const unmade = path.join(tempDir(), 'unmade');
    await expect(Node.open({ id: 1, dir: unmade, peers: [], transport: net, clusterId: 'c', snapshotWindow: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(Node.open({ id: 1, dir: unmade, peers: [], transport: net, clusterId: 'c', raft: { maxInflightMsgs: Number.NaN } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(fs.existsSync(unmade)).toBe(false);
  });
});
