import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../sim/cluster/nemesis.ts';
import { runSimulation } from '../../sim/run.ts';

const all = parseFaults('all');

describe('simulator determinism', () => {
  it('replays a seed bit-for-bit: same trace hash, same history, same faults', () => {
    const a = runSimulation({ seed: 7, nodes: 5, ops: 300, faults: all });
    const b = runSimulation({ seed: 7, nodes: 5, ops: 300, faults: all });
    expect(a.faults.length).toBeGreaterThan(5);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.history).toEqual(a.history);
    expect(b.faults).toEqual(a.faults);
    expect(b.simulatedMs).toBe(a.simulatedMs);
    expect(b.events).toBe(a.events);
  });

  it('different seeds give different runs', () => {
    const hashes = new Set([1, 2, 3, 4].map((seed) => runSimulation({ seed, nodes: 3, ops: 100, faults: all }).traceHash));
    expect(hashes.size).toBe(4);
  });
});
