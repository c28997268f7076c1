/**
 * Random fault schedules (generated and shrunk by fast-check) on 3 and 5 nodes keep every
 * invariant and yield linearizable histories. The fast-check seed is fixed so CI is
 * reproducible; FC_SEED overrides it, and fast-check prints seed and path on failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFaults } from '../../sim/cluster/nemesis.ts';
import { runSimulation } from '../../sim/run.ts';
import { scheduleArbitrary } from './schedule-arbitrary.ts';

const FC_SEED = Number(process.env.FC_SEED ?? 20261123);
const all = parseFaults('all');

describe('random fault schedules (fast-check)', () => {
  for (const nodes of [3, 5]) {
    it(`${nodes} nodes: every invariant holds and histories are linearizable`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1_000_000 }), scheduleArbitrary(nodes, 12_000, 25), (seed, schedule) => {
          const r = runSimulation({ seed, nodes, ops: 150, faults: all, schedule });
          if (r.violations.length > 0) throw new Error(`seed ${seed}: ${r.violations.join('\n')}`);
          expect(r.acked).toBeGreaterThan(0);
        }),
        { seed: FC_SEED, numRuns: 100 },
      );
    });
  }
});
