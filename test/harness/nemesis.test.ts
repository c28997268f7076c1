/**
 * The harness nemesis: its schedule is a pure function of the seed and bounded in count and time;
 * playing it applies one fault at a time (the network faults as the links cuts.ts plans), undoes
 * each, and stops at its deadline. cuts.test.ts covers which links each network fault cuts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planCut, type Link } from '../../harness/cuts.ts';
import { DEFAULT_DURATION_MS, DEFAULT_GAP_MS, FAULT_KINDS, faultSchedule, isLinkFault, MAX_FAULTS, Nemesis, parseFaultKinds, type FaultKind, type FaultStep, type NemesisTarget } from '../../harness/nemesis.ts';

const ids = [1, 2, 3];
const all = [...FAULT_KINDS];

describe('faultSchedule', () => {
  it('is the same for the same seed, and differs between seeds', () => {
    const a = faultSchedule({ seed: 7, kinds: all, ids, totalMs: 60_000 });
    expect(faultSchedule({ seed: 7, kinds: all, ids, totalMs: 60_000 })).toEqual(a);
    expect(faultSchedule({ seed: 8, kinds: all, ids, totalMs: 60_000 })).not.toEqual(a);
    expect(a.length).toBeGreaterThan(5);
    const long = faultSchedule({ seed: 7, kinds: all, ids, totalMs: 600_000 });
    expect(long.slice(0, a.length)).toEqual(a); // a longer run extends the same schedule
    expect(new Set(long.map((s) => s.kind))).toEqual(new Set(all));
    expect(new Set(long.map((s) => s.node))).toEqual(new Set(ids));
  });

  it('gives every network fault a cut shape, drawn apart from the rest of the step', () => {
    const kinds: FaultKind[] = ['kill', 'pause', 'partition', 'oneway', 'bridge'];
    const steps = faultSchedule({ seed: 11, kinds, ids: [1, 2, 3, 4, 5], totalMs: 600_000 });
    for (const k of kinds) expect(steps.filter((s) => s.kind === k).length, k).toBeGreaterThan(5);
    for (const s of steps) expect(s.shape !== undefined, s.kind).toBe(isLinkFault(s.kind));
    // Both directions of oneway, and both a subset and all of the others, come up.
    const oneway = steps.filter((s) => s.kind === 'oneway').map((s) => s.shape!);
    expect(new Set(oneway.map((sh) => sh.inbound))).toEqual(new Set([true, false]));
    expect(new Set(oneway.map((sh) => sh.peers))).toEqual(new Set([1, 2, 3, 4]));
    // The kinds enabled change which kind a step is, never its node, timing or shape, so the
    // schedules drawn before oneway and bridge existed are the ones drawn now.
    const old = faultSchedule({ seed: 11, kinds: ['kill', 'pause', 'partition'], ids: [1, 2, 3, 4, 5], totalMs: 600_000 });
    const strip = (xs: FaultStep[]) => xs.map(({ node, atLeader, gapMs, durationMs }) => ({ node, atLeader, gapMs, durationMs }));
    expect(strip(old)).toEqual(strip(steps));
    const partitions = old.flatMap((s, i) => (s.kind === 'partition' && steps[i]!.shape !== undefined ? [[s.shape, steps[i]!.shape]] : []));
    expect(partitions.length).toBeGreaterThan(0);
    for (const [a, b] of partitions) expect(a).toEqual(b);
  });

  it('stays within its bounds for any seed, kinds and length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.subarray(all, { minLength: 1 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.integer({ min: 1, max: 9 }),
        (seed, kinds, totalMs, n) => {
          const nodes = Array.from({ length: n }, (_, i) => i + 1);
          const steps = faultSchedule({ seed, kinds, ids: nodes, totalMs });
          expect(steps.length).toBeLessThanOrEqual(MAX_FAULTS);
          const within = (v: number, r: { min: number; max: number }) => v >= r.min && v <= r.max;
          const bad = steps.filter((s) => !kinds.includes(s.kind) || !nodes.includes(s.node) || !within(s.gapMs, DEFAULT_GAP_MS) || !within(s.durationMs, DEFAULT_DURATION_MS));
          expect(bad).toEqual([]);
          const used = steps.reduce((sum, s) => sum + s.gapMs + s.durationMs, 0);
          expect(used).toBeLessThanOrEqual(totalMs);
          // Nearly full: the first step that did not fit is at most one maximal step away.
          if (steps.length < MAX_FAULTS) expect(totalMs - used).toBeLessThan(DEFAULT_GAP_MS.max + DEFAULT_DURATION_MS.max);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('is empty with no kinds, and parses kind lists', () => {
    expect(faultSchedule({ seed: 1, kinds: [], ids, totalMs: 60_000 })).toEqual([]);
    expect(parseFaultKinds('kill,pause,partition,oneway,bridge')).toEqual(all);
    expect(parseFaultKinds('oneway, bridge')).toEqual(['oneway', 'bridge']);
    expect(parseFaultKinds('all')).toEqual(all);
    expect(parseFaultKinds('none')).toEqual([]);
    expect(parseFaultKinds('pause, pause')).toEqual(['pause']);
    expect(() => parseFaultKinds('kill,flood')).toThrow(/unknown nemesis "flood"/);
  });
});

function linksText(links: readonly Link[]): string {
  return links.map((l) => `${l.from}->${l.to}`).join(' ');
}

/** A fake cluster that records the nemesis's calls and asserts one fault at a time. */
function fakeTarget(leader = 0): { target: NemesisTarget; calls: string[]; maxActive: () => number } {
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  const on = (what: string) => {
    calls.push(what);
    active++;
    maxActive = Math.max(maxActive, active);
  };
  const off = (what: string) => {
    calls.push(what);
    active--;
  };
  const target: NemesisTarget = {
    kill: async (id) => on(`kill ${id}`),
    restart: async (id) => off(`restart ${id}`),
    pause: (id) => on(`pause ${id}`),
    resume: (id) => off(`resume ${id}`),
    cut: (links) => on(`cut ${linksText(links)}`),
    heal: () => off('heal'),
    leader: async () => leader,
  };
  return { target, calls, maxActive: () => maxActive };
}

describe('Nemesis.run', () => {
  const fast = { gapMs: { min: 1, max: 5 }, durationMs: { min: 1, max: 10 } };

  it('applies and undoes each fault in turn, one at a time, and counts them by kind', async () => {
    const steps = faultSchedule({ seed: 3, kinds: all, ids, totalMs: 800, ...fast, leaderChance: 0 });
    for (const k of all) expect(steps.some((s) => s.kind === k), k).toBe(true);
    const fake = fakeTarget();
    const n = new Nemesis(steps, ids, fake.target);
    await n.run(performance.now() + 60_000);
    expect(fake.maxActive()).toBe(1);
    expect(fake.calls).toHaveLength(2 * steps.length);
    const cut = (s: FaultStep) => `cut ${linksText(planCut(s.kind as 'partition' | 'oneway' | 'bridge', s.node, ids, s.shape!).links)}`;
    const apply = (s: FaultStep) => (s.kind === 'kill' ? `kill ${s.node}` : s.kind === 'pause' ? `pause ${s.node}` : cut(s));
    const undo = (s: FaultStep) => (s.kind === 'kill' ? `restart ${s.node}` : s.kind === 'pause' ? `resume ${s.node}` : 'heal');
    steps.forEach((s, i) => {
      expect(fake.calls[2 * i]).toBe(apply(s));
      expect(fake.calls[2 * i + 1]).toBe(undo(s));
    });
    for (const k of all) expect(n.counts[k]).toBe(steps.filter((s) => s.kind === k).length);
    expect(n.applied.map((a) => a.links.length > 0)).toEqual(steps.map((s) => isLinkFault(s.kind)));
    expect(n.problems).toEqual([]);
  });

  it('plans a network fault aimed at the leader around the leader', async () => {
    const steps = faultSchedule({ seed: 9, kinds: ['oneway', 'bridge', 'partition'], ids, totalMs: 300, ...fast, leaderChance: 1 });
    const fake = fakeTarget(3);
    const n = new Nemesis(steps, ids, fake.target);
    await n.run(performance.now() + 60_000);
    expect(n.applied.length).toBe(steps.length);
    n.applied.forEach((a, i) => {
      expect(a.node).toBe(3);
      expect(a.links).toEqual(planCut(a.kind as 'partition' | 'oneway' | 'bridge', 3, ids, steps[i]!.shape!).links);
      // Every fault aimed at node 3 cuts a link of node 3's: a bridge puts it on a side.
      expect(a.links.some((l) => l.from === 3 || l.to === 3)).toBe(true);
    });
  });

  it('skips, without counting, a network fault with nothing to cut', async () => {
    const steps = faultSchedule({ seed: 2, kinds: ['bridge'], ids: [1, 2], totalMs: 100, ...fast });
    expect(steps.length).toBeGreaterThan(0);
    const fake = fakeTarget();
    const lines: string[] = [];
    const n = new Nemesis(steps, [1, 2], fake.target, (l) => lines.push(l));
    await n.run(performance.now() + 60_000);
    expect(fake.calls).toEqual([]);
    expect(n.counts.bridge).toBe(0);
    expect(n.applied).toEqual([]);
    expect(lines.length).toBe(steps.length);
    expect(lines[0]).toMatch(/^nemesis: bridge node \d skipped: no bridge in 2 node\(s\)$/);
  });

  it('reports, rather than throws, a schedule drawn for other nodes', async () => {
    const steps = faultSchedule({ seed: 2, kinds: ['oneway'], ids: [1, 2, 3, 4, 5], totalMs: 100, ...fast, leaderChance: 0 });
    const fake = fakeTarget();
    const n = new Nemesis(steps, ids, fake.target);
    await n.run(performance.now() + 60_000);
    expect(fake.calls).toEqual([]);
    expect(n.problems).toEqual([expect.stringContaining('could not plan oneway node')]);
  });

  it('aims at the leader when a step asks and one is known', async () => {
    const steps = faultSchedule({ seed: 4, kinds: ['pause'], ids, totalMs: 200, ...fast, leaderChance: 1 });
    const fake = fakeTarget(2);
    const n = new Nemesis(steps, ids, fake.target);
    await n.run(performance.now() + 60_000);
    expect(new Set(fake.calls)).toEqual(new Set(['pause 2', 'resume 2']));
    expect(n.applied.every((a) => a.wasLeader && a.node === 2)).toBe(true);
  });

  it('stops at its deadline, cutting the fault in force short and undoing it', async () => {
    const steps = faultSchedule({ seed: 5, kinds: ['kill'], ids, totalMs: 3_600_000, gapMs: { min: 1, max: 1 }, durationMs: { min: 60_000, max: 60_000 } });
    const fake = fakeTarget();
    const n = new Nemesis(steps, ids, fake.target);
    const t0 = performance.now();
    await n.run(t0 + 200);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(fake.calls).toHaveLength(2);
    expect(fake.calls[1]).toMatch(/^restart /);
  });

  it('stops when aborted, and records a fault it could not undo', async () => {
    const steps = faultSchedule({ seed: 6, kinds: ['kill'], ids, totalMs: 100_000, ...fast });
    const fake = fakeTarget();
    fake.target.restart = async () => {
      throw new Error('port in use');
    };
    const n = new Nemesis(steps, ids, fake.target);
    await n.run(performance.now() + 60_000);
    expect(n.problems).toEqual([expect.stringContaining('could not undo kill node')]);
    const ac = new AbortController();
    ac.abort();
    const m = new Nemesis(steps, ids, fakeTarget().target);
    await m.run(performance.now() + 60_000, ac.signal);
    expect(m.applied).toEqual([]);
  });
});
