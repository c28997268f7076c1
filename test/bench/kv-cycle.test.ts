import { describe, expect, it } from 'vitest';
import { instrumentCycles, startCycles, stopCycles } from '../../bench/kv-cycle.ts';
import { startCluster } from '../cluster/harness.ts';

// bench:kv prints this breakdown; it wraps methods of the stores and of Node, so a rename
// must fail here rather than leave the benchmark quietly without it.
describe('bench kv-cycle', () => {
  it('splits the leader rounds of concurrent puts: every part measured, both followers seen', async () => {
    instrumentCycles();
    // Slower ticks than the tests' default: a leader change under a loaded CI machine would cut the rounds seen.
    const cluster = await startCluster({ nodes: 3, tickMs: 50 });
    const leader = await cluster.waitForLeader();
    const clients = Array.from({ length: 8 }, () => cluster.client());
    startCycles();
    await Promise.all(
      clients.map(async (kv, i) => {
        for (let j = 0; j < 40; j++) await kv.put(`k${i}/${j}`, 'v');
      }),
    );
    const c = stopCycles(leader);
    expect(c).not.toBeNull();
    expect(c!.cycles).toBeGreaterThan(10);
    for (const part of [c!.saveMs, c!.followerMs, c!.applyMs, c!.clientsMs, c!.nextSaveMs]) expect(part).toBeGreaterThanOrEqual(0);
    expect(c!.saveMs).toBeGreaterThan(0);
    expect(c!.applyMs).toBeGreaterThan(0);
    expect([...c!.followers.keys()].sort()).toEqual(cluster.ids.filter((id) => id !== leader));
    for (const f of c!.followers.values()) expect(f.saveMs).toBeGreaterThan(0);
  });

  it('records nothing outside startCycles/stopCycles', async () => {
    instrumentCycles();
    const cluster = await startCluster({ nodes: 3 });
    const leader = await cluster.waitForLeader();
    await cluster.client().put('k', 'v');
    startCycles();
    expect(stopCycles(leader)).toBeNull();
  });
});
