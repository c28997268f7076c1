/** Opt-in lease reads: answered without a heartbeat round, never while a rival leader may exist. */
import { describe, expect, it } from 'vitest';
import { leaseTicks, raftConfig } from '../../src/raft/config.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { MemStorage, Network } from './harness.ts';

const lease = { leaseReads: { maxClockDrift: 0.1 } };

function readsOf(net: Network, id: NodeId): string[] {
  return net.node(id).readStates.map((r) => r.context);
}

describe('lease reads', () => {
  it('are answered at once while a quorum recently acknowledged a heartbeat', () => {
    const net = new Network([1, 2, 3], { cfg: lease });
    net.campaign(1);
    net.propose(1, 'a');
    net.tick(1, 1); // a heartbeat round: the lease starts
    expect(net.raft(1).leaseValid()).toBe(true);
    const before = net.delivered.length;
    net.raft(1).leaseRead('r1');
    expect(net.raft(1).ready().readStates).toEqual([{ index: net.raft(1).log.committed, context: 'r1' }]);
    expect(net.delivered.length).toBe(before); // no message was needed
  });

  it('expire on an isolated leader well before anyone else can be elected', () => {
    const net = new Network([1, 2, 3], { cfg: lease });
    net.campaign(1);
    net.propose(1, 'a');
    net.tick(1, 1);
    net.isolate(1);
    let leaseLastValidAt = -1;
    let rivalAt = -1;
    for (let t = 1; t <= 40 && rivalAt < 0; t++) {
      net.tickAll(1);
      if (net.raft(1).leaseValid()) leaseLastValidAt = t;
      if (net.leaders().some((id) => id !== 1)) rivalAt = t;
    }
    expect(rivalAt).toBeGreaterThan(0);
    expect(leaseLastValidAt).toBeLessThan(rivalAt);
    // Without the lease the read falls back to ReadIndex, which the isolated leader cannot complete.
    net.raft(1).leaseRead('stale?');
    net.deliverAll();
    expect(readsOf(net, 1)).not.toContain('stale?');
  });

  it('are given up for the rest of the term once leadership transfer sends TimeoutNow', () => {
    const net = new Network([1, 2, 3], { cfg: lease });
    net.campaign(1);
    net.propose(1, 'a');
    net.tick(1, 1);
    expect(net.raft(1).leaseValid()).toBe(true);
    net.drop((m) => m.type === 'timeoutNow'); // the transfer itself fails...
    net.raft(1).transferLeader(2);
    net.deliverAll();
    net.tick(1, 12); // ...and is abandoned, but the TimeoutNow may have reached its target
    expect(net.raft(1).role).toBe('leader');
    expect(net.raft(1).leaseValid()).toBe(false);
  });

  it('a restarted node refuses votes for an election timeout', () => {
    // Nodes that have seen term 1 come back up: one of them may have acknowledged a lease.
    const storages = new Map<NodeId, MemStorage>();
    for (const id of [1, 2, 3]) {
      const s = MemStorage.withTerms([1]);
      s.hardState = { term: 1, vote: 0, commit: 1 };
      storages.set(id, s);
    }
    const net = new Network([1, 2, 3], { cfg: { ...lease, preVote: false }, storages });
    net.campaign(1);
    expect(net.raft(1).role).not.toBe('leader');
    net.tickAll(10); // everyone's startup lease runs out (before anyone's own timeout fires)
    net.campaign(1);
    expect(net.raft(1).role).toBe('leader');
  });

  it('the lease is an election timeout minus tick phase and drift allowance', () => {
    expect(leaseTicks(raftConfig({ id: 1, voters: [1], electionTick: 10, ...lease }))).toBe(7);
    expect(() => raftConfig({ id: 1, voters: [1], checkQuorum: false, ...lease })).toThrow(/checkQuorum/);
  });
});
