/** fast-check arbitraries for explicit nemesis schedules, so failures shrink to a minimal schedule. */
import fc from 'fast-check';
import { MAX_DRIFT_PPM, type NemesisAction, type TimedAction } from '../../sim/cluster/nemesis.ts';

export function actionArbitrary(n: number): fc.Arbitrary<NemesisAction> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const anyNode = fc.integer({ min: 0, max: n }); // 0 = the leader at that moment
  const node = fc.integer({ min: 1, max: n });
  return fc.oneof(
    fc.record({ kind: fc.constant('crash' as const), node: anyNode }),
    fc.record({ kind: fc.constant('restart' as const), node }),
    fc.record({ kind: fc.constant('pause' as const), node: anyNode }),
    fc.record({ kind: fc.constant('resume' as const), node }),
    fc.subarray(ids, { minLength: 1, maxLength: n - 1 }).map((g) => ({ kind: 'partition' as const, groups: [g] })),
    fc.record({ kind: fc.constant('isolate' as const), node: anyNode }),
    fc.tuple(node, node).filter(([a, b]) => a !== b).map(([from, to]) => ({ kind: 'oneway' as const, from, to })),
    fc.tuple(node, fc.subarray(ids)).map(([id, peers]) => ({ kind: 'partial' as const, node: id, peers: peers.filter((p) => p !== id) })),
    fc.constant({ kind: 'heal' as const }),
    fc.record({
      kind: fc.constant('network' as const),
      dropRate: fc.constantFrom(0, 0.1, 0.3),
      duplicateRate: fc.constantFrom(0, 0.1, 0.2),
      longDelayRate: fc.constantFrom(0, 0.1, 0.2),
      maxDelayMs: fc.constantFrom(2, 50, 200),
    }),
    fc.record({ kind: fc.constant('skew' as const), node, driftPpm: fc.integer({ min: -MAX_DRIFT_PPM, max: MAX_DRIFT_PPM }) }),
    fc.record({ kind: fc.constant('flipBit' as const), node }),
  );
}

export function scheduleArbitrary(n: number, horizonMs: number, maxActions: number): fc.Arbitrary<TimedAction[]> {
  return fc
    .array(fc.record({ atMs: fc.integer({ min: 0, max: horizonMs }), action: actionArbitrary(n) }), { maxLength: maxActions })
    .map((xs) => [...xs].sort((a, b) => a.atMs - b.atMs));
}
