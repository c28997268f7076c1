import { describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import type { Cluster } from '../../src/cluster/cluster.ts';
import { isTesseraError } from '../../src/errors.ts';
import { DEFAULT_KV_LIMITS } from '../../src/store/kv-limits.ts';
import { s, sleep, startCluster } from '../cluster/harness.ts';
import { FaultyEndpoint, lost } from './faulty-endpoint.ts';

function faultyClient(cluster: Cluster, options: ConstructorParameters<typeof Client>[1] = {}) {
  const eps = cluster.endpoints.map((e) => new FaultyEndpoint(e));
  const kv = new Client(eps, { attemptTimeoutMs: 300, timeoutMs: 10_000, backoff: { minMs: 5, maxMs: 50 }, watchIdleMs: 100, ...options });
  return { kv, eps, setHook: (h: FaultyEndpoint['hook']) => eps.forEach((e) => (e.hook = h)) };
}

/** Every event the cluster recorded for `key` (the event log is replicated: any node will do). */
async function eventsFor(cluster: Cluster, key: string): Promise<string[]> {
  const kv = cluster.client();
  await kv.revision(); // a barrier, so the node read below is current
  const node = cluster.node(cluster.leader())!;
  return node
    .events(1, 10_000)
    .filter((e) => s(e.key) === key)
    .map((e) => `${e.type}:${e.type === 'put' ? s(e.value) : ''}`);
}

describe('Client retries under one session', () => {
  it('a retry after a lost answer gets the first result; the write is applied once', async () => {
    const cluster = await startCluster();
    await cluster.waitForLeader();
    const { kv, setHook, eps } = faultyClient(cluster);
    let first: number | null = null;
    setHook(async (inner, cmd) => {
      const res = await inner.propose(cmd);
      if (first === null && res && res.ok) {
        first = res.revision;
        return lost(); // applied, but the answer never arrives: the client times out and retries
      }
      return res;
    });
    const put = await kv.put('once', 'v');
    expect(first).not.toBeNull();
    expect(put.revision).toBe(first);
    expect(eps.reduce((n, e) => n + e.proposals, 0)).toBeGreaterThan(1);
    expect((await kv.get('once'))!.version).toBe(1);
    expect(await eventsFor(cluster, 'once')).toEqual(['put:v']);
  });

  it('a write in flight when its leader stops is applied at most once (retried on the new leader)', async () => {
    const cluster = await startCluster();
    const { kv, setHook } = faultyClient(cluster);
    const outcomes: boolean[] = [];
    for (let round = 0; round < 6; round++) {
      const leader = await cluster.waitForLeader();
      let stopped: Promise<void> | null = null;
      let firstIndex = 0;
      setHook(async (inner, cmd) => {
        if (stopped !== null || inner.id !== leader) return inner.propose(cmd);
        firstIndex = cluster.node(leader)!.status().lastIndex + 1; // nothing else is proposing
        const pending = inner.propose(cmd); // appended to the leader's log...
        // ...and the leader stops at once, or after replicating for a moment.
        if (round % 3 === 1) await new Promise((r) => setImmediate(r));
        if (round % 3 === 2) await sleep(3);
        stopped = cluster.stopNode(leader);
        return pending;
      });
      const key = `k${round}`;
      const put = await kv.put(key, `v${round}`);
      expect(stopped).not.toBeNull();
      await stopped;
      outcomes.push(put.revision === firstIndex);
      expect((await kv.get(key))!.version).toBe(1);
      expect(await eventsFor(cluster, key)).toEqual([`put:v${round}`]);
      setHook(null);
      await cluster.startNode(leader);
    }
    // In practice the first copy is lost in some rounds (stopped before it left the leader) and
    // survives in others (the new leader commits it and answers the retry from the session
    // cache); either way exactly one put was applied (checked above).
    expect(outcomes).toHaveLength(6);
  });

  it('follows NOT_LEADER hints to the leader and remembers it', async () => {
    const cluster = await startCluster();
    let leader = await cluster.waitForLeader();
    if (leader === 1) {
      cluster.node(1)!.transferLeader(2);
      while ((leader = cluster.leader()) !== 2) await sleep(5);
    }
    while (!cluster.ids.every((id) => cluster.node(id)!.leaderHint() === leader)) await sleep(5);
    const { kv, eps } = faultyClient(cluster);
    for (const e of eps) e.hideLeaderHint = true; // so the client starts at node 1, a follower
    const res = await kv.txn({ compares: [], success: [{ op: 'put', key: 'r', value: '1' }] });
    expect(res.succeeded).toBe(true);
    expect(kv.leader).toBe(leader);
    expect(eps.map((e) => e.proposals)).toEqual(cluster.ids.map((id) => (id === 1 || id === leader ? 1 : 0)));
    await kv.put('r', '2');
    expect(eps[0]!.proposals).toBe(1); // the remembered leader is asked directly
  });
});

describe('Client sessions and expiry', () => {
  const limits = { ...DEFAULT_KV_LIMITS, maxSessions: 2 };

  async function evict(cluster: Cluster): Promise<void> {
    // Two other clients open sessions; with maxSessions 2 the least recently used one goes.
    for (const id of ['evict-b', 'evict-c']) {
      const other = cluster.client({ sessions: 1, clientId: `${id}-${Math.random()}` });
      await other.put(`by/${id}`, 'x');
      await other.close();
    }
  }

  it('reopens an expired session by itself when the write certainly was not applied', async () => {
    const cluster = await startCluster({ kvLimits: limits });
    const a = cluster.client({ sessions: 1 });
    await a.put('a', '1');
    await evict(cluster);
    // a's session is gone: its next command is refused (session_expired) and reopened.
    await a.put('a', '2');
    expect(await a.getString('a')).toBe('2');
    expect(await eventsFor(cluster, 'a')).toEqual(['put:1', 'put:2']);
  });

  it('a client reusing a given client id never gets the earlier client\'s cached answers', async () => {
    const cluster = await startCluster();
    const a = cluster.client({ clientId: 'fixed', sessions: 1 });
    const first = await a.put('k', '1');
    await a.close();
    const b = cluster.client({ clientId: 'fixed', sessions: 1 });
    const second = await b.put('k', '2', { prevKv: true });
    expect(second.revision).toBeGreaterThan(first.revision);
    expect(s(second.prev!.value)).toBe('1');
    expect(await b.getString('k')).toBe('2');
  });

  it('SESSION_EXPIRED (outcome unknown) when an earlier attempt may have been applied', async () => {
    const cluster = await startCluster({ kvLimits: limits });
    await cluster.waitForLeader();
    const { kv, setHook } = faultyClient(cluster, { sessions: 1 });
    await kv.put('a', '1');
    let dropped = false;
    setHook(async (inner, cmd) => {
      const res = await inner.propose(cmd);
      if (!dropped) {
        dropped = true;
        await evict(cluster); // the session expires before the retry arrives
        return lost();
      }
      return res;
    });
    const err = await kv.put('a', '2').catch((e: unknown) => e);
    expect(isTesseraError(err, 'SESSION_EXPIRED'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/outcome is unknown/);
    // Here it had in fact been applied, once.
    expect(await eventsFor(cluster, 'a')).toEqual(['put:1', 'put:2']);
    // The client goes on under a new session.
    setHook(null);
    await kv.put('a', '3');
    expect(await kv.getString('a')).toBe('3');
  });
});
