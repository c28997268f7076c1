/**
 * A node's state machine groups its apply batches into one LMDB commit for a while
 * (stateCommitWindowMs), and reads see a batch only once it committed. Whatever waits for such a
 * batch must end the group rather than wait out the window. Here the window is a minute, so a
 * wait for it would outlast the test's timeout by far.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, tempDir } from './harness.ts';
import path from 'node:path';
import { Cluster } from '../../src/cluster/cluster.ts';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { utf8 } from '../../src/util/bytes.ts';

const WINDOW_MS = 60_000;

describe("a state machine's commit window never delays reads or watches", () => {
  let cluster: Cluster;
  afterEach(async () => {
    await cluster?.close();
  });

  it("serves a client's reads of its own put without waiting for the window", async () => {
    cluster = await startCluster({ stateCommitWindowMs: WINDOW_MS });
    const leaderId = await cluster.waitForLeader();
    const kv = cluster.client();
    for (const consistency of ['local', 'lease', 'linearizable'] as const) {
      const { revision } = await kv.put(`r/${consistency}`, consistency);
      // The client's next read waits for the node to reach its own write's revision.
      const t0 = performance.now();
      expect(await kv.getString(`r/${consistency}`, { consistency })).toBe(consistency);
      expect(performance.now() - t0).toBeLessThan(2_000);
      expect(cluster.node(leaderId)!.appliedIndex()).toBeGreaterThanOrEqual(revision);
    }
  });

  it('delivers watch events without waiting for the window', async () => {
    cluster = await startCluster({ stateCommitWindowMs: WINDOW_MS });
    await cluster.waitForLeader();
    // A long idle period: the watch's own periodic barrier must not be what ends the wait.
    const kv = cluster.client({ watchIdleMs: 30_000 });
    const watch = kv.watch('w/');
    const first = watch.next();
    // The watch starts from the revision after its first barrier; let it take that position.
    await kv.get('w/none', { consistency: 'linearizable' });
    for (const key of ['w/a', 'w/b']) {
      const next = key === 'w/a' ? first : watch.next();
      const t0 = performance.now();
      await kv.put(key, 'x');
      expect((await next).value).toMatchObject({ type: 'put', key: utf8(key) });
      expect(performance.now() - t0).toBeLessThan(2_000);
    }
    await watch.return();
  });

  it('commits the open group when the cluster closes: the state on disk has every acknowledged write', async () => {
    const dir = tempDir();
    cluster = await startCluster({ dir, stateCommitWindowMs: WINDOW_MS });
    const leader = await cluster.waitForLeader();
    const kv = cluster.client();
    let last = 0;
    for (let i = 0; i < 20; i++) last = (await kv.put(`k${i}`, `v${i}`)).revision;
    expect(cluster.node(leader)!.appliedIndex()).toBeLessThan(last); // still in the open group
    await cluster.close();
    // The leader's state machine as a restart finds it, before any log replay.
    const sm = LmdbKvStateMachine.open(path.join(dir, `node-${leader}`, 'state'));
    try {
      expect(sm.appliedIndex()).toBeGreaterThanOrEqual(last);
      for (let i = 0; i < 20; i++) expect(sm.get(utf8(`k${i}`))?.value).toEqual(utf8(`v${i}`));
    } finally {
      await sm.close();
    }
  });

  it('refuses a window that is not a positive number of milliseconds', async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(Cluster.start({ nodes: 1, dir: tempDir(), stateCommitWindowMs: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });
});
