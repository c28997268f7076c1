/** A few seeds with every fault on, on 3 and 5 nodes (CI runs a sweep of hundreds more). */
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../sim/cluster/nemesis.ts';
import { runSimulation } from '../../sim/run.ts';

const all = parseFaults('all');

describe('simulated clusters under every fault', () => {
  for (const nodes of [3, 5]) {
    for (const seed of [11, 12, 13]) {
      it(`${nodes} nodes, seed ${seed}: no violation, and the faults really happened`, () => {
        const r = runSimulation({ seed, nodes, ops: 400, faults: all });
        expect(r.violations).toEqual([]);
        expect(r.acked).toBeGreaterThan(50);
        expect(r.faults.length).toBeGreaterThan(10);
        expect(new Set(r.faults.map((f) => f.action.kind)).size).toBeGreaterThan(4);
      });
    }
  }

  it('a fault-free run elects one leader and acknowledges most writes', () => {
    const r = runSimulation({ seed: 1, nodes: 5, ops: 300, faults: parseFaults('none') });
    expect(r.violations).toEqual([]);
    expect(r.elections).toBe(1);
    expect(r.info).toBe(0);
  });
});
