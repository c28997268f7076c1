import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedMap } from '../../src/util/sorted-map.ts';

type Op = { t: 'set'; k: string; v: number } | { t: 'delete'; k: string } | { t: 'range'; s: string; e: string | null; n: number } | { t: 'clone' };

const k = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\u00ff'), maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('set' as const), k, v: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('delete' as const), k }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('range' as const), s: k, e: fc.option(k, { nil: null }), n: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'clone' as const }) },
);

/** The obvious model: a Map, sorted on every read. */
function modelRange(m: Map<string, number>, s: string, e: string | null, n: number): [string, number][] {
  return [...m.entries()]
    .filter(([key]) => key >= s && (e === null || key < e))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, n);
}

describe('SortedMap', () => {
  it('behaves as a map whose ranges are sorted (property, against a model)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        let map = new SortedMap<number>();
        const model = new Map<string, number>();
        for (const op of ops) {
          if (op.t === 'set') {
            map.set(op.k, op.v);
            model.set(op.k, op.v);
          } else if (op.t === 'delete') {
            expect(map.delete(op.k)).toBe(model.delete(op.k));
          } else if (op.t === 'range') {
            expect(map.range(op.s, op.e, op.n)).toEqual(modelRange(model, op.s, op.e, op.n));
          } else {
            const before = map.range('', null, 1000);
            const copy = map.clone();
            map.set('zz', 1); // the copy is independent
            expect(copy.range('', null, 1000)).toEqual(before);
            map.delete('zz');
            map = copy;
          }
          expect(map.size).toBe(model.size);
        }
        expect(map.range('', null, 1000)).toEqual(modelRange(model, '', null, 1000));
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('keeps append-at-end and remove-at-front cheap and correct over many operations', () => {
    const map = new SortedMap<number>();
    const key = (i: number) => String(i).padStart(8, '0');
    for (let i = 0; i < 50_000; i++) {
      map.set(key(i), i);
      if (i >= 1000) expect(map.delete(key(i - 1000))).toBe(true);
    }
    expect(map.size).toBe(1000);
    expect(map.range('', null, 2)).toEqual([
      [key(49_000), 49_000],
      [key(49_001), 49_001],
    ]);
    map.set(key(1), 1); // in front of everything, after front removals
    expect(map.range('', null, 1)).toEqual([[key(1), 1]]);
  });
});
