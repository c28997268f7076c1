import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeId } from '../../src/raft/types.ts';
import { InvariantChecker } from '../../sim/check/invariants.ts';
import { parseFaults, type TimedAction } from '../../sim/cluster/nemesis.ts';
import type { SimCluster } from '../../sim/cluster/sim-cluster.ts';
import type { TimelineEvent } from '../../sim/cluster/timeline.ts';
import { runSimulation, type SimRunOptions } from '../../sim/run.ts';

const all = parseFaults('all');
let parent = '';

beforeAll(() => {
  // Every commit really fsyncs; on tmpfs that is free, and fsync latency is not under test here
  // (the simulator models it). Falls back to the system's temporary directory.
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  parent = fs.mkdtempSync(path.join(base, 'tessera-lmdb-sim-test-'));
});

afterAll(() => fs.rmSync(parent, { recursive: true, force: true }));

interface Observed {
  readonly restarts: Array<{ node: NodeId; applied: number }>;
  readonly installs: NodeId[];
}

/** One LMDB run, noting each restart's recovered applied index and each snapshot install. */
function run(o: Omit<SimRunOptions, 'store' | 'storeDir'>) {
  let cluster: SimCluster | null = null;
  const seen: Observed = { restarts: [], installs: [] };
  const onEvent = (e: TimelineEvent) => {
    if (e.kind === 'restart') seen.restarts.push({ node: e.node, applied: cluster!.stateMachine(e.node)!.appliedIndex() });
    if (e.kind === 'snapshot') seen.installs.push(e.node);
  };
  const r = runSimulation({ ...o, store: 'lmdb', storeDir: parent, onEvent, observe: (c) => (cluster = c) });
  // The run's temporary directory is gone.
  expect(fs.readdirSync(parent)).toEqual([]);
  return { r, seen };
}

describe('simulator over the LMDB stores', () => {
  it('runs seeds with every fault LMDB supports, without violations; durable state survives crashes', () => {
    let restartsWithState = 0;
    let installs = 0;
    for (const [seed, nodes] of [[1, 3], [2, 3], [3, 5], [4, 5]] as const) {
      const { r, seen } = run({ seed, nodes, ops: 300, faults: all, timings: { snapshotEvery: 50 } });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      expect(r.acked).toBeGreaterThan(50);
      expect(r.faults.some((f) => f.action.kind === 'crash')).toBe(true);
      expect(r.faults.some((f) => f.action.kind === 'flipBit')).toBe(false);
      restartsWithState += seen.restarts.filter((x) => x.applied > 0).length;
      installs += r.snapshotsInstalled;
    }
    // Restarted nodes came back with what they had applied (a memory node starts from its snapshot).
    expect(restartsWithState).toBeGreaterThan(0);
    expect(installs).toBeGreaterThan(0);
  });

  it('replays a seed bit-for-bit', () => {
    const o = { seed: 11, nodes: 5, ops: 300, faults: all, timings: { snapshotEvery: 20 } };
    const a = run(o).r;
    const b = run(o).r;
    expect(a.violations).toEqual([]);
    expect(a.faults.some((f) => f.action.kind === 'crash')).toBe(true);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.history).toEqual(a.history);
    expect(b.faults).toEqual(a.faults);
    expect(b.events).toBe(a.events);
  });

  it('brings a follower that fell behind the compacted log back with a streamed snapshot', () => {
    // Node 3 is down while the others commit far past their snapshots; it restarts on its own directories.
    const schedule: TimedAction[] = [
      { atMs: 500, action: { kind: 'crash', node: 3 } },
      { atMs: 12_000, action: { kind: 'restart', node: 3 } },
    ];
    const { r, seen } = run({ seed: 5, nodes: 3, ops: 300, faults: parseFaults('crash'), schedule, timings: { snapshotEvery: 20 } });
    expect(r.violations).toEqual([]);
    expect(seen.restarts).toHaveLength(1);
    expect(seen.installs).toContain(3);
    expect(r.snapshotsInstalled).toBe(seen.installs.length);
  });

  it('never injects torn writes or bit flips, even when scheduled', () => {
    const schedule: TimedAction[] = [
      { atMs: 500, action: { kind: 'crash', node: 2 } },
      { atMs: 600, action: { kind: 'flipBit', node: 2 } },
      { atMs: 700, action: { kind: 'restart', node: 2 } },
    ];
    const { r } = run({ seed: 6, nodes: 3, ops: 60, faults: all, schedule });
    expect(r.violations).toEqual([]);
    const kinds = r.faults.map((f) => f.action.kind);
    expect(kinds.slice(0, 2)).toEqual(['crash', 'restart']);
    expect(kinds).not.toContain('flipBit');
  });

  it('removes the run directory when the run throws', () => {
    const boom = () => {
      throw new Error('boom');
    };
    expect(() => runSimulation({ seed: 1, nodes: 3, ops: 10, faults: all, store: 'lmdb', storeDir: parent, observe: boom })).toThrow('boom');
    expect(fs.readdirSync(parent)).toEqual([]);
  });
});

describe('apply cursor across restarts', () => {
  it('accepts a durable state machine resuming where it stopped and flags one that went back', () => {
    const c = new InvariantChecker(() => null, () => 0);
    const entry = (index: number) => ({ index, term: 1, type: 0, data: new Uint8Array([index]) });
    c.nodeRestarted(1, 0, true);
    c.applied(1, [entry(1), entry(2)]);
    c.nodeRestarted(1, 2, true);
    c.applied(1, [entry(3)]);
    expect(c.violations).toEqual([]);
    c.nodeRestarted(1, 1, true);
    expect(c.violations).toEqual([expect.stringContaining('durable apply: node 1 restarted at applied index 1')]);
    // A volatile one replays from its snapshot: going back is expected.
    c.nodeRestarted(2, 0, false);
    c.applied(2, [entry(1), entry(2)]);
    c.nodeRestarted(2, 0, false);
    expect(c.violations).toHaveLength(1);
  });
});
