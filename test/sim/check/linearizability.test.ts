import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HistoryError,
  pairOperations,
  parseHistory,
  toJsonl,
  type EventValue,
  type Fn,
  type HistoryEvent,
  type Value,
} from '../../../sim/check/history.ts';
import { checkLinearizable, describeFailure, type LinearizabilityResult } from '../../../sim/check/linearizability.ts';
import { bruteForceLinearizable } from './brute-force.ts';
import { Prng, generateHistory, okGetLines, withStaleRead } from './register-history-gen.ts';

// Tiny history builders: one call per line, in real-time order.
const inv = (process: number, f: Fn, key: string, value: EventValue = null): HistoryEvent => ({ process, type: 'invoke', f, key, value });
const ok = (process: number, f: Fn, key: string, value: EventValue = null): HistoryEvent => ({ process, type: 'ok', f, key, value });
const fail = (process: number, f: Fn, key: string): HistoryEvent => ({ process, type: 'fail', f, key, value: null });
const info = (process: number, f: Fn, key: string): HistoryEvent => ({ process, type: 'info', f, key, value: null });
/** A complete operation by one process, with nothing concurrent. */
const put = (p: number, key: string, v: string): HistoryEvent[] => [inv(p, 'put', key, v), ok(p, 'put', key)];
const get = (p: number, key: string, v: Value): HistoryEvent[] => [inv(p, 'get', key), ok(p, 'get', key, v)];
const del = (p: number, key: string): HistoryEvent[] => [inv(p, 'delete', key), ok(p, 'delete', key)];
const cas = (p: number, key: string, expected: Value, next: string, type: 'ok' | 'fail' = 'ok'): HistoryEvent[] => [
  inv(p, 'cas', key, [expected, next]),
  type === 'ok' ? ok(p, 'cas', key) : fail(p, 'cas', key),
];

function expectRejected(result: LinearizabilityResult, key: string): void {
  expect(result.ok, describeFailure(result)).toBe(false);
  if (result.ok !== false) return;
  expect(result.key).toBe(key);
  expect(result.reason.length).toBeGreaterThan(0);
  expect(result.operations.length).toBeGreaterThan(0);
}

describe('linearizability: violations are rejected', () => {
  it('rejects a stale read after a newer write completed', () => {
    const r = checkLinearizable([...put(1, 'a', '1'), ...put(1, 'a', '2'), ...get(2, 'a', '1')]);
    expectRejected(r, 'a');
    if (r.ok === false) {
      expect(r.reason).toContain('get "a" -> "1"');
      expect(r.reason).toContain('holds "2"');
      expect(r.operations.some((op) => op.f === 'get' && op.output === '1')).toBe(true);
    }
  });

  it('rejects a lost write: a later read sees the initial absence', () => {
    expectRejected(checkLinearizable([...put(1, 'a', 'x'), ...get(2, 'a', null)]), 'a');
  });

  it('rejects a lost write: a later read sees the older value', () => {
    const h = [...put(1, 'a', 'old'), ...get(2, 'a', 'old'), ...put(1, 'a', 'new'), ...get(3, 'a', 'old')];
    expectRejected(checkLinearizable(h), 'a');
  });

  it('rejects a read of a value never written', () => {
    const r = checkLinearizable([...put(1, 'a', '1'), ...get(2, 'a', 'ghost')]);
    expectRejected(r, 'a');
    if (r.ok === false) expect(r.reason).toContain('no operation on this key writes');
  });

  it('rejects a cas reported ok although its expected value did not match', () => {
    expectRejected(checkLinearizable([...put(1, 'a', '1'), ...cas(2, 'a', '2', '3')]), 'a');
    expectRejected(checkLinearizable(cas(2, 'a', 'x', 'y')), 'a'); // expected "x" but the key is absent
  });

  it('rejects two sequential reads going backwards with only one concurrent writer', () => {
    const h = [
      ...put(1, 'a', '1'),
      inv(2, 'put', 'a', '2'),
      ...get(3, 'a', '2'),
      ...get(3, 'a', '1'),
      ok(2, 'put', 'a'),
    ];
    expectRejected(checkLinearizable(h), 'a');
  });

  it('rejects an info write read back after a later write completed (it cannot take effect twice)', () => {
    const h = [inv(1, 'put', 'a', 'x'), info(1, 'put', 'a'), ...get(2, 'a', 'x'), ...put(2, 'a', 'y'), ...get(3, 'a', 'x')];
    expectRejected(checkLinearizable(h), 'a');
  });

  it('reports only the key with the violation', () => {
    const h = [...put(1, 'a', '1'), ...put(2, 'b', '1'), ...get(1, 'a', '1'), ...put(2, 'b', '2'), ...get(3, 'b', '1')];
    expectRejected(checkLinearizable(h), 'b');
  });
});

describe('linearizability: correct histories are accepted', () => {
  it('accepts concurrent overlapping writes with reads seeing either order', () => {
    const during = (first: string, second: string): HistoryEvent[] => [
      inv(1, 'put', 'a', '1'),
      inv(2, 'put', 'a', '2'),
      ...get(3, 'a', first),
      ...get(3, 'a', second),
      ok(1, 'put', 'a'),
      ok(2, 'put', 'a'),
      ...get(3, 'a', second),
    ];
    expect(checkLinearizable(during('1', '2'))).toEqual({ ok: true });
    expect(checkLinearizable(during('2', '1'))).toEqual({ ok: true });
  });

  it('accepts an info write that took effect (a later read sees it)', () => {
    const h = [inv(1, 'put', 'a', 'x'), info(1, 'put', 'a'), ...get(2, 'a', 'x'), ...get(2, 'a', 'x')];
    expect(checkLinearizable(h)).toEqual({ ok: true });
  });

  it('accepts an info write that never took effect (later reads never see it)', () => {
    const h = [...put(1, 'a', 'v'), inv(2, 'put', 'a', 'x'), info(2, 'put', 'a'), ...get(3, 'a', 'v'), ...get(3, 'a', 'v')];
    expect(checkLinearizable(h)).toEqual({ ok: true });
    const unfinished = [...put(1, 'a', 'v'), inv(2, 'delete', 'a'), ...get(3, 'a', 'v')];
    expect(checkLinearizable(unfinished)).toEqual({ ok: true });
  });

  it('accepts an info write that becomes visible late, after other operations', () => {
    const h = [
      inv(1, 'put', 'a', 'late'),
      info(1, 'put', 'a'),
      ...put(2, 'a', 'y'),
      ...get(3, 'a', 'y'),
      ...cas(2, 'a', 'y', 'z'),
      ...get(3, 'a', 'z'),
      ...get(3, 'a', 'late'),
    ];
    expect(checkLinearizable(h)).toEqual({ ok: true });
    // Same, with the invoke never completed at all.
    const unfinished = [inv(1, 'put', 'a', 'late'), ...put(2, 'a', 'y'), ...get(3, 'a', 'y'), ...get(3, 'a', 'late')];
    expect(checkLinearizable(unfinished)).toEqual({ ok: true });
  });

  it('accepts mixes of cas ok and cas fail', () => {
    const h = [
      ...cas(1, 'a', null, '1'),
      ...put(2, 'a', '2'),
      ...cas(1, 'a', '1', 'x', 'fail'),
      ...cas(1, 'a', '2', '3'),
      ...get(2, 'a', '3'),
      ...cas(2, 'a', null, 'y', 'fail'),
      ...del(1, 'a'),
      ...cas(2, 'a', null, '5'),
      ...get(1, 'a', '5'),
    ];
    expect(checkLinearizable(h)).toEqual({ ok: true });
  });

  it('accepts an info cas that may or may not have applied', () => {
    const applied = [...put(1, 'a', '1'), inv(2, 'cas', 'a', ['1', '2']), info(2, 'cas', 'a'), ...get(3, 'a', '2')];
    const notApplied = [...put(1, 'a', '1'), inv(2, 'cas', 'a', ['1', '2']), info(2, 'cas', 'a'), ...get(3, 'a', '1')];
    expect(checkLinearizable(applied)).toEqual({ ok: true });
    expect(checkLinearizable(notApplied)).toEqual({ ok: true });
  });

  it('accepts a delete followed by a read of null', () => {
    expect(checkLinearizable([...put(1, 'a', '1'), ...del(2, 'a'), ...get(1, 'a', null)])).toEqual({ ok: true });
  });

  it('accepts multiple keys interleaved', () => {
    const h = [
      inv(1, 'put', 'a', 'a1'),
      inv(2, 'put', 'b', 'b1'),
      inv(3, 'get', 'a'),
      ok(2, 'put', 'b'),
      ok(3, 'get', 'a', null),
      inv(2, 'get', 'b'),
      ok(1, 'put', 'a'),
      ok(2, 'get', 'b', 'b1'),
      ...get(3, 'a', 'a1'),
      ...del(1, 'b'),
      ...get(2, 'b', null),
    ];
    expect(checkLinearizable(h)).toEqual({ ok: true });
  });

  it('ignores fail operations: they had no effect', () => {
    const h = [...put(1, 'a', '1'), inv(2, 'put', 'a', '2'), fail(2, 'put', 'a'), ...get(3, 'a', '1')];
    expect(checkLinearizable(h)).toEqual({ ok: true });
  });
});

describe('history parsing and pairing', () => {
  it('round-trips through JSON Lines', () => {
    const events = [{ ...inv(1, 'cas', 'k', [null, 'x']), time: 5 }, { ...ok(1, 'cas', 'k'), time: 9 }, ...get(2, 'k', 'x')];
    expect(parseHistory(toJsonl(events))).toEqual(events);
  });

  it('pairs invokes with completions, drops fails, treats unfinished invokes as info', () => {
    const ops = pairOperations([inv(1, 'put', 'k', 'v'), inv(2, 'get', 'k'), ok(1, 'put', 'k'), fail(2, 'get', 'k'), inv(3, 'delete', 'k')]);
    expect(ops.map((op) => [op.f, op.status, op.callIndex, op.returnIndex])).toEqual([
      ['put', 'ok', 0, 2],
      ['delete', 'info', 4, Infinity],
    ]);
  });

  it('throws on a completion without an invoke', () => {
    expect(() => pairOperations([ok(1, 'put', 'k')])).toThrow(/no outstanding invoke/);
  });

  it('throws on a second invoke while one is outstanding', () => {
    expect(() => pairOperations([inv(1, 'put', 'k', 'v'), inv(1, 'get', 'k')])).toThrow(/outstanding/);
  });

  it('throws on a completion whose f or key does not match the invoke', () => {
    expect(() => pairOperations([inv(1, 'put', 'k', 'v'), ok(1, 'get', 'k')])).toThrow(/does not match/);
    expect(() => pairOperations([inv(1, 'put', 'k', 'v'), ok(1, 'put', 'other')])).toThrow(/does not match/);
  });

  it('throws when a process issues again after info', () => {
    expect(() => pairOperations([inv(1, 'put', 'k', 'v'), info(1, 'put', 'k'), inv(1, 'get', 'k')])).toThrow(/after its info/);
  });

  it('throws on malformed lines, naming the line', () => {
    expect(() => parseHistory('{"process":1,"type":"invoke","f":"get","key":"k","value":null}\nnot json')).toThrow(/line 2/);
    expect(() => parseHistory('{"process":1,"type":"invoke","f":"put","key":"k","value":7}')).toThrow(HistoryError);
    expect(() => parseHistory('{"process":1,"type":"invoke","f":"incr","key":"k","value":null}')).toThrow(/"f"/);
    expect(() => parseHistory('{"process":1,"type":"invoke","f":"cas","key":"k","value":["a"]}')).toThrow(/cas/);
    expect(() => parseHistory('{"process":"1","type":"invoke","f":"get","key":"k","value":null}')).toThrow(/process/);
  });

  it('checkLinearizable rejects malformed histories by throwing', () => {
    expect(() => checkLinearizable([ok(1, 'get', 'k', 'x')])).toThrow(HistoryError);
  });
});

describe('linearizability: generated histories', () => {
  const genArb = fc.record({
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    ops: fc.integer({ min: 1, max: 300 }),
    clients: fc.integer({ min: 1, max: 8 }),
    keys: fc.integer({ min: 1, max: 3 }),
    infoRate: fc.constantFrom(0, 0.02, 0.1),
    rejectRate: fc.constantFrom(0, 0.05),
    leaveInFlight: fc.boolean(),
  });

  it('checks a 10,000-operation linearizable history as ok in under 5 seconds', () => {
    const events = generateHistory({ seed: 2024, ops: 10_000, clients: 8, keys: 3, infoRate: 0.01, rejectRate: 0.02, leaveInFlight: true });
    expect(events.filter((e) => e.type === 'invoke')).toHaveLength(10_000);
    expect(events.some((e) => e.type === 'info')).toBe(true);
    const start = performance.now(); // wall-clock-ok
    const result = checkLinearizable(events);
    const elapsedMs = performance.now() - start; // wall-clock-ok
    console.log(`checked 10,000 operations (${events.length} lines) in ${elapsedMs.toFixed(0)} ms`);
    expect(result).toEqual({ ok: true });
    expect(elapsedMs).toBeLessThan(5000);
  });

  it('returns unknown when the time budget runs out', () => {
    const events = generateHistory({ seed: 7, ops: 10_000, clients: 8, keys: 1 });
    expect(checkLinearizable(events, { timeoutMs: 0 })).toEqual({ ok: 'unknown', reason: 'timeout' });
  });

  it('accepts every generated linearizable history', () => {
    fc.assert(
      fc.property(genArb, (o) => {
        const result = checkLinearizable(generateHistory(o));
        expect(result, describeFailure(result)).toEqual({ ok: true });
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('rejects a generated history once one ok get reads a never-written value', () => {
    fc.assert(
      fc.property(genArb, fc.nat(), (o, pick) => {
        const events = generateHistory(o);
        const gets = okGetLines(events);
        fc.pre(gets.length > 0);
        const line = gets[pick % gets.length]!;
        const mutated = events.map((e, i) => (i === line ? { ...e, value: 'never-written' } : e));
        const result = checkLinearizable(mutated);
        expect(result.ok).toBe(false);
        if (result.ok === false) expect(result.key).toBe(events[line]!.key);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('rejects a generated history once one ok get reads a stale value', () => {
    fc.assert(
      fc.property(genArb, fc.nat(), (o, pick) => {
        const events = generateHistory(o);
        const gets = okGetLines(events);
        const mutated = gets.length === 0 ? undefined : withStaleRead(events, gets[pick % gets.length]!);
        fc.pre(mutated !== undefined);
        expect(checkLinearizable(mutated).ok).toBe(false);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('agrees with a brute-force search on small arbitrary histories', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.integer({ min: 1, max: 9 }), (seed, n) => {
        const events = arbitraryHistory(seed, n);
        expect(checkLinearizable(events).ok).toBe(bruteForceLinearizable(pairOperations(events)));
      }),
      { seed: 42, numRuns: 3000 },
    );
  });
});

/**
 * A well-formed history with random outcomes, linearizable or not, over few values and keys so that
 * reads often match some write: the interesting region for disagreements.
 */
function arbitraryHistory(seed: number, n: number): HistoryEvent[] {
  const rng = new Prng(seed);
  const values = ['a', 'b', 'c', 'd'].slice(0, 1 + rng.int(4));
  const readable: Value[] = [null, ...values.slice(0, 1 + rng.int(values.length))];
  const keys = rng.chance(0.7) ? ['x'] : ['x', 'y'];
  const processes = Array.from({ length: 2 + rng.int(3) }, (_, i) => i);
  let nextProcess = processes.length;
  const open = new Map<number, { f: Fn; key: string }>();
  const events: HistoryEvent[] = [];
  let invoked = 0;
  while (invoked < n || open.size > 0) {
    const slot = rng.int(processes.length);
    const p = processes[slot]!;
    const pending = open.get(p);
    if (pending === undefined) {
      if (invoked >= n) {
        if (rng.chance(0.2)) break; // leave the rest unfinished
        continue;
      }
      const f = rng.pick<Fn>(['put', 'get', 'cas', 'delete']);
      const key = rng.pick(keys);
      const value: EventValue = f === 'put' ? rng.pick(values) : f === 'cas' ? [rng.pick(readable), rng.pick(values)] : null;
      events.push(inv(p, f, key, value));
      open.set(p, { f, key });
      invoked++;
      continue;
    }
    const roll = rng.next();
    const type = roll < 0.7 ? 'ok' : roll < 0.85 ? 'fail' : 'info';
    events.push({ process: p, type, f: pending.f, key: pending.key, value: pending.f === 'get' && type === 'ok' ? rng.pick(readable) : null });
    open.delete(p);
    if (type === 'info') processes[slot] = nextProcess++;
  }
  return events;
}
