/**
 * Which directed links each network fault of the harness cuts (harness/cuts.ts): exact links for
 * 3 and 5 nodes, and for any cluster size, node and drawn shape, the properties the nemesis relies
 * on (one direction only for oneway, a bridge that keeps every link, a majority left connected).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drawCutShape, LINK_FAULT_KINDS, planCut, type CutShape, type Link } from '../../harness/cuts.ts';
import { SeededRandom } from '../../sim/core/random.ts';

const both = (a: number, b: number): Link[] => [
  { from: a, to: b },
  { from: b, to: a },
];
const sorted = (links: readonly Link[]): Link[] => [...links].sort((x, y) => x.from - y.from || x.to - y.to);
const shape = (o: Partial<CutShape> & Pick<CutShape, 'order'>): CutShape => ({ inbound: false, peers: o.order.length, ...o });

describe('planCut, 3 nodes', () => {
  const ids = [1, 2, 3];

  it('partition cuts the node off both ways', () => {
    expect(planCut('partition', 2, ids, shape({ order: [1, 0] }))).toEqual({ links: sorted([...both(2, 1), ...both(2, 3)]), text: '2 <-/-> 1,3' });
  });

  it('oneway out drops what the node sends, to all or to the first peers of the order', () => {
    expect(planCut('oneway', 1, ids, shape({ order: [0, 1] })).links).toEqual([{ from: 1, to: 2 }, { from: 1, to: 3 }]);
    // Others of node 1 are [2, 3]; order [1, 0] puts 3 first.
    expect(planCut('oneway', 1, ids, shape({ order: [1, 0], peers: 1 }))).toEqual({ links: [{ from: 1, to: 3 }], text: '1 -/-> 3' });
  });

  it('oneway in drops what the others send to the node', () => {
    expect(planCut('oneway', 3, ids, shape({ order: [0, 1], inbound: true }))).toEqual({ links: [{ from: 1, to: 3 }, { from: 2, to: 3 }], text: '1,2 -/-> 3' });
    expect(planCut('oneway', 3, ids, shape({ order: [1, 0], inbound: true, peers: 1 })).links).toEqual([{ from: 2, to: 3 }]);
  });

  it('bridge cuts the node from one other both ways; the third reaches both', () => {
    // Others of node 1 are [2, 3]: order [1, 0] makes 3 the bridge, 2 the far side.
    expect(planCut('bridge', 1, ids, shape({ order: [1, 0] }))).toEqual({ links: both(1, 2), text: '{1} | 3 | {2}' });
    expect(planCut('bridge', 1, ids, shape({ order: [0, 1] }))).toEqual({ links: both(1, 3), text: '{1} | 2 | {3}' });
    expect(planCut('bridge', 2, ids, shape({ order: [0, 1] })).links).toEqual(both(2, 3));
  });
});

describe('planCut, 5 nodes', () => {
  const ids = [1, 2, 3, 4, 5];

  it('bridge: two majorities of 3 sharing one bridge node', () => {
    // Others of node 3 are [1, 2, 4, 5]; order [3, 1, 0, 2] reads 5, 2, 1, 4: bridge 5, node 3's side {3, 2}, far side {1, 4}.
    const plan = planCut('bridge', 3, ids, shape({ order: [3, 1, 0, 2] }));
    expect(plan.text).toBe('{2,3} | 5 | {1,4}');
    expect(plan.links).toEqual(sorted([...both(2, 1), ...both(2, 4), ...both(3, 1), ...both(3, 4)]));
  });

  it('oneway to a subset drops only those links, in one direction', () => {
    // Others of node 4 are [1, 2, 3, 5]; the first two of order [2, 0, 3, 1] are 3 and 1.
    expect(planCut('oneway', 4, ids, shape({ order: [2, 0, 3, 1], peers: 2 }))).toEqual({ links: [{ from: 4, to: 1 }, { from: 4, to: 3 }], text: '4 -/-> 1,3' });
    expect(planCut('oneway', 4, ids, shape({ order: [2, 0, 3, 1], peers: 2, inbound: true })).links).toEqual([{ from: 1, to: 4 }, { from: 3, to: 4 }]);
  });

  it('partition cuts all 8 links of the node', () => {
    expect(planCut('partition', 5, ids, shape({ order: [0, 1, 2, 3] })).links).toEqual(sorted([1, 2, 3, 4].flatMap((o) => both(5, o))));
  });
});

describe('planCut, any size', () => {
  /** Is there a majority of `ids` with no cut link among its members? */
  function majorityConnected(ids: readonly number[], links: readonly Link[]): boolean {
    const cut = new Set(links.map((l) => `${l.from}->${l.to}`));
    for (let mask = 0; mask < 1 << ids.length; mask++) {
      const group = ids.filter((_, i) => mask & (1 << i));
      if (2 * group.length <= ids.length) continue;
      if (group.every((a) => group.every((b) => a === b || !cut.has(`${a}->${b}`)))) return true;
    }
    return false;
  }

  it('keeps to the rules of each kind, and leaves a majority connected both ways', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.nat(), fc.constantFrom(...LINK_FAULT_KINDS), (n, seed, pick, kind) => {
        const ids = Array.from({ length: n }, (_, i) => i + 1);
        const node = ids[pick % n]!;
        const sh = drawCutShape(new SeededRandom(seed), n);
        const { links } = planCut(kind, node, ids, sh);
        expect(links).toEqual(sorted(links));
        expect(new Set(links.map((l) => `${l.from}->${l.to}`)).size).toBe(links.length);
        for (const l of links) expect(ids.includes(l.from) && ids.includes(l.to) && l.from !== l.to).toBe(true);
        if (n >= 3) expect(majorityConnected(ids, links)).toBe(true);
        if (kind === 'partition') expect(links.length).toBe(2 * (n - 1));
        if (kind === 'oneway') {
          expect(links.length).toBe(sh.peers);
          for (const l of links) expect(sh.inbound ? l.to : l.from).toBe(node);
        }
        if (kind === 'bridge' && n < 3) expect(links).toEqual([]);
        if (kind === 'bridge' && n >= 3) {
          const touched = new Set(links.flatMap((l) => [l.from, l.to]));
          const bridges = ids.filter((id) => !touched.has(id));
          expect(bridges).toHaveLength(1); // every other node loses its links to the far side
          expect(touched.has(node)).toBe(true);
          // Cut both ways, and a complete bipartite cut: the sides are the node's and the far one.
          const near = ids.filter((id) => id === node || (touched.has(id) && !links.some((l) => l.from === node && l.to === id)));
          const far = ids.filter((id) => touched.has(id) && !near.includes(id));
          expect(sorted(links)).toEqual(sorted(near.flatMap((a) => far.flatMap((b) => both(a, b)))));
          expect(Math.abs(near.length - far.length)).toBeLessThanOrEqual(1);
          expect(near.length).toBeLessThanOrEqual(far.length);
          // With an odd count both sides plus the bridge are majorities.
          if (n % 2 === 1) expect(2 * (near.length + 1)).toBeGreaterThan(n);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('draws shapes that are permutations, with both directions and both subset sizes', () => {
    const random = new SeededRandom(5);
    const shapes = Array.from({ length: 200 }, () => drawCutShape(random, 5));
    for (const s of shapes) {
      expect([...s.order].sort()).toEqual([0, 1, 2, 3]);
      expect(s.peers).toBeGreaterThanOrEqual(1);
      expect(s.peers).toBeLessThanOrEqual(4);
    }
    expect(new Set(shapes.map((s) => s.inbound))).toEqual(new Set([true, false]));
    expect(new Set(shapes.map((s) => s.peers))).toEqual(new Set([1, 2, 3, 4]));
    expect(drawCutShape(new SeededRandom(5), 1)).toMatchObject({ peers: 0, order: [] });
    expect(drawCutShape(new SeededRandom(5), 2)).toMatchObject({ peers: 1, order: [0] });
  });

  it('refuses a node or a shape that does not fit the cluster', () => {
    expect(() => planCut('oneway', 4, [1, 2, 3], shape({ order: [0, 1] }))).toThrow(/node 4 is not one of/);
    expect(() => planCut('bridge', 1, [1, 2, 3], shape({ order: [0, 1, 2] }))).toThrow(/not a permutation/);
    expect(() => planCut('bridge', 1, [1, 2, 3], shape({ order: [1, 1] }))).toThrow(/not a permutation/);
    expect(() => planCut('oneway', 1, [1, 2, 3], shape({ order: [0, 1], peers: 0 }))).toThrow(/peers must be in 1..2/);
  });
});
