/**
 * The checkers must be able to fail. Each test breaks one guarantee in the real code (by
 * patching a method for the duration of the test) and requires the simulator to notice.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftNode } from '../../src/node/raft-node.ts';
import { RaftLog } from '../../src/raft/log.ts';
import { Raft } from '../../src/raft/raft.ts';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { parseFaults } from '../../sim/cluster/nemesis.ts';
import { runSimulation } from '../../sim/run.ts';
import { scheduleArbitrary } from './schedule-arbitrary.ts';

const all = parseFaults('all');
const restores: Array<() => void> = [];

function patch<T extends object, K extends keyof T>(proto: T, key: K, impl: T[K]): void {
  const orig = proto[key];
  proto[key] = impl;
  restores.push(() => {
    proto[key] = orig;
  });
}

afterEach(() => {
  while (restores.length > 0) restores.pop()!();
});

/** Runs seeds until one reports a violation; returns its violations (empty if none did). */
function firstViolations(seeds: number[], nodes: number, ops: number): string[] {
  for (const seed of seeds) {
    const r = runSimulation({ seed, nodes, ops, faults: all });
    if (r.violations.length > 0) return r.violations;
  }
  return [];
}

const seeds = Array.from({ length: 15 }, (_, i) => i + 1);

describe('the simulator catches injected bugs', () => {
  it('votes without the election restriction (§5.4.1)', () => {
    patch(RaftLog.prototype, 'isUpToDate', () => true);
    expect(firstViolations(seeds, 5, 300).length).toBeGreaterThan(0);
  });

  it('an fsync that lies: writes acknowledged before they are durable', () => {
    // The store believes the disk synced; nothing did, so a crash loses "durable" entries and votes.
    patch(MemoryDisk.prototype, 'sync', () => {});
    const v = firstViolations(seeds, 3, 400);
    expect(v.some((x) => /monotonic commit|acknowledged write lost|beyond last index/.test(x))).toBe(true);
  });

  it('reads served from local state without ReadIndex (stale reads)', () => {
    patch(RaftNode.prototype, 'readBarrier', function (this: RaftNode, cb) {
      cb(null, this.stateMachine.appliedIndex());
    } as RaftNode['readBarrier']);
    const v = firstViolations(seeds, 5, 400);
    expect(v.some((x) => x.startsWith('linearizability'))).toBe(true);
  });

  it('a lease that never expires on a leader that never steps down serves stale reads', () => {
    patch(Raft.prototype, 'leaseValid', function (this: Raft) {
      return this.role === 'leader';
    });
    patch(Raft.prototype as unknown as { checkQuorumActive(): boolean }, 'checkQuorumActive', () => true);
    const v = firstViolations(seeds, 5, 1000);
    expect(v.some((x) => x.startsWith('linearizability'))).toBe(true);
  });

  it('commits an old-term entry by counting replicas (§5.4.2), found and shrunk by fast-check', () => {
    patch(RaftLog.prototype, 'maybeCommit', function (this: RaftLog, index: number) {
      if (index <= this.committed) return false;
      this.commitTo(index);
      return true;
    } as RaftLog['maybeCommit']);
    patch(RaftLog.prototype, 'isUpToDate', () => true);
    const result = fc.check(
      fc.property(scheduleArbitrary(3, 8_000, 20), (schedule) => {
        const r = runSimulation({ seed: 3, nodes: 3, ops: 120, faults: all, schedule });
        return r.violations.length === 0;
      }),
      { seed: 42, numRuns: 200 },
    );
    expect(result.failed).toBe(true);
    const [minimal] = result.counterexample!;
    // Shrinking leaves only a handful of actions that still break the cluster.
    expect(minimal.length).toBeLessThanOrEqual(4);
    console.log(`minimal failing schedule after ${result.numShrinks} shrinks: ${JSON.stringify(minimal)}`);
  });
});
