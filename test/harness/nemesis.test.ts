/**
 * The harness nemesis: its schedule is a pure function of the seed and bounded in count and time;
 * playing it applies one fault at a time, undoes each, and stops at its deadline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DURATION_MS, DEFAULT_GAP_MS, FAULT_KINDS, faultSchedule, MAX_FAULTS, Nemesis, parseFaultKinds, type FaultKind, type NemesisTarget } from '../../harness/nemesis.ts';

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
    expect(parseFaultKinds('kill,pause,partition')).toEqual(all);
    expect(parseFaultKinds('all')).toEqual(all);
    expect(parseFaultKinds('none')).toEqual([]);
    expect(parseFaultKinds('pause, pause')).toEqual(['pause']);
    expect(() => parseFaultKinds('kill,flood')).toThrow(/unknown nemesis "flood"/);
  });
});

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
    isolate: (id) => on(`isolate ${id}`),
    heal: () => off('heal'),
    leader: async () => leader,
  };
  return { target, calls, maxActive: () => maxActive };
}

describe('Nemesis.run', () => {
  const fast = { gapMs: { min: 1, max: 5 }, durationMs: { min: 1, max: 10 } };

  it('applies and undoes each fault in turn, one at a time, and counts them by kind', async () => {
    const steps = faultSchedule({ seed: 3, kinds: all, ids, totalMs: 400, ...fast, leaderChance: 0 });
    const fake = fakeTarget();
    const n = new Nemesis(steps, fake.target);
    await n.run(performance.now() + 60_000);
    expect(fake.maxActive()).toBe(1);
    expect(fake.calls).toHaveLength(2 * steps.length);
    const undo: Record<FaultKind, (id: number) => string> = { kill: (id) => `restart ${id}`, pause: (id) => `resume ${id}`, partition: () => 'heal' };
    const apply: Record<FaultKind, (id: number) => string> = { kill: (id) => `kill ${id}`, pause: (id) => `pause ${id}`, partition: (id) => `isolate ${id}` };
    steps.forEach((s, i) => {
      expect(fake.calls[2 * i]).toBe(apply[s.kind](s.node));
      expect(fake.calls[2 * i + 1]).toBe(undo[s.kind](s.node));
    });
    for (const k of all) expect(n.counts[k]).toBe(steps.filter((s) => s.kind === k).length);
    expect(n.problems).toEqual([]);
  });

  it('aims at the leader when a step asks and one is known', async () => {
    const steps = faultSchedule({ seed: 4, kinds: ['pause'], ids, totalMs: 200, ...fast, leaderChance: 1 });
    const fake = fakeTarget(2);
    const n = new Nemesis(steps, fake.target);
    await n.run(performance.now() + 60_000);
    expect(new Set(fake.calls)).toEqual(new Set(['pause 2', 'resume 2']));
    expect(n.applied.every((a) => a.wasLeader && a.node === 2)).toBe(true);
  });

  it('stops at its deadline, cutting the fault in force short and undoing it', async () => {
    const steps = faultSchedule({ seed: 5, kinds: ['kill'], ids, totalMs: 3_600_000, gapMs: { min: 1, max: 1 }, durationMs: { min: 60_000, max: 60_000 } });
    const fake = fakeTarget();
    const n = new Nemesis(steps, fake.target);
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
    const n = new Nemesis(steps, fake.target);
    await n.run(performance.now() + 60_000);
    expect(n.problems).toEqual([expect.stringContaining('could not undo kill node')]);
    const ac = new AbortController();
    ac.abort();
    const m = new Nemesis(steps, fakeTarget().target);
    await m.run(performance.now() + 60_000, ac.signal);
    expect(m.applied).toEqual([]);
  });
});
