/**
 * Deterministic generator of client histories of a correct (linearizable) register store, for the
 * checker's tests. Each operation takes effect at one random step between its invoke and its
 * completion, which is exactly what makes a history linearizable. Clients may crash (`info`) before or
 * after the effect; a crashed request may still take effect much later, or never.
 */
import type { EventType, EventValue, Fn, HistoryEvent, Value } from '../../../sim/check/history.ts';

/** mulberry32: small, seedable, and independent of ambient randomness. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new Error('pick from an empty array');
    return x;
  }
}

export interface GenOptions {
  seed: number;
  /** Operations to invoke in total. */
  ops: number;
  /** Concurrent clients; a crashed client's slot is taken over by a fresh process id. */
  clients: number;
  keys: number;
  /** Per completion, the chance the client crashes and records `info` instead. */
  infoRate?: number;
  /** Per step of a not-yet-applied operation, the chance the store rejects it (`fail`, no effect). */
  rejectRate?: number;
  /** Stop right after the last invoke, leaving the operations in flight without completions. */
  leaveInFlight?: boolean;
}

interface Pending {
  process: number;
  f: Fn;
  key: string;
  value: EventValue;
  applied: boolean;
  /** Completion type once applied ('fail' for a cas whose compare failed) and a get's read. */
  outcome?: { type: 'ok' | 'fail'; read: Value };
}

export function generateHistory(o: GenOptions): HistoryEvent[] {
  const rng = new Prng(o.seed);
  const infoRate = o.infoRate ?? 0;
  const rejectRate = o.rejectRate ?? 0;
  const keys = Array.from({ length: o.keys }, (_, i) => `k${i}`);
  const store = new Map<string, Value>();
  const written: Value[] = [null];
  const events: HistoryEvent[] = [];
  const slots: (Pending | undefined)[] = Array.from({ length: o.clients }, () => undefined);
  const slotProcess = slots.map((_, i) => i);
  let nextProcess = o.clients;
  const zombies: Pending[] = []; // requests whose client crashed before they took effect
  let invoked = 0;
  let unique = 0;

  const emit = (process: number, type: EventType, f: Fn, key: string, value: EventValue): void => {
    events.push({ process, type, f, key, value, time: events.length * 10 });
  };
  const apply = (p: Pending): void => {
    const current = store.get(p.key) ?? null;
    p.applied = true;
    p.outcome = { type: 'ok', read: null };
    if (p.f === 'put' || p.f === 'delete') store.set(p.key, p.value as Value);
    if (p.f === 'get') p.outcome.read = current;
    if (p.f === 'cas') {
      const [expected, next] = p.value as readonly [Value, Value];
      if (current === expected) store.set(p.key, next);
      else p.outcome.type = 'fail';
    }
  };
  const invoke = (slot: number): void => {
    const key = rng.pick(keys);
    const process = slotProcess[slot]!;
    const roll = rng.next();
    let p: Pending;
    if (roll < 0.4) p = { process, f: 'get', key, value: null, applied: false };
    else if (roll < 0.7) p = { process, f: 'put', key, value: `v${unique++}`, applied: false };
    else if (roll < 0.9) {
      // Mostly expect the current value so that many cas operations succeed.
      const expected = rng.chance(0.6) ? (store.get(key) ?? null) : rng.pick(written);
      p = { process, f: 'cas', key, value: [expected, `v${unique++}`], applied: false };
    } else p = { process, f: 'delete', key, value: null, applied: false };
    if (p.f === 'put') written.push(p.value as Value);
    if (p.f === 'cas') written.push((p.value as readonly [Value, Value])[1]);
    slots[slot] = p;
    invoked++;
    emit(process, 'invoke', p.f, key, p.value);
  };
  const crash = (slot: number, p: Pending): void => {
    emit(p.process, 'info', p.f, p.key, p.f === 'get' ? null : p.value);
    if (!p.applied) zombies.push(p);
    slots[slot] = undefined;
    slotProcess[slot] = nextProcess++;
  };

  // Requests in flight when the history ends may take effect after it: nobody can tell.
  while (invoked < o.ops || (!o.leaveInFlight && slots.some((s) => s !== undefined))) {
    if (zombies.length > 0 && rng.chance(0.05)) {
      const z = zombies.splice(rng.int(zombies.length), 1)[0]!;
      if (rng.chance(0.5)) apply(z);
    }
    const slot = rng.int(o.clients);
    const p = slots[slot];
    if (p === undefined) {
      if (invoked < o.ops) invoke(slot);
    } else if (!p.applied) {
      if (rng.chance(rejectRate)) {
        emit(p.process, 'fail', p.f, p.key, p.f === 'get' ? null : p.value);
        slots[slot] = undefined;
      } else if (rng.chance(infoRate)) crash(slot, p);
      else if (rng.chance(0.5)) apply(p);
    } else if (rng.chance(infoRate)) {
      crash(slot, p);
    } else {
      const out = p.outcome!;
      emit(p.process, out.type, p.f, p.key, p.f === 'get' ? out.read : p.value);
      slots[slot] = undefined;
    }
  }
  return events;
}

/** Indices of `ok` get lines, the natural targets for corrupting a history. */
export function okGetLines(events: readonly HistoryEvent[]): number[] {
  const lines: number[] = [];
  events.forEach((e, i) => {
    if (e.type === 'ok' && e.f === 'get') lines.push(i);
  });
  return lines;
}

/**
 * Rewrites the ok get completed on line `line` to read a stale value: one written by an ok put that
 * completed before another ok put on the key was invoked, which itself completed before the get was
 * invoked. Written values are unique, so no linearization can serve it. Undefined if none exists.
 */
export function withStaleRead(events: readonly HistoryEvent[], line: number): HistoryEvent[] | undefined {
  const done = events[line];
  if (done === undefined || done.type !== 'ok' || done.f !== 'get') throw new Error(`line ${line} is not an ok get`);
  let invokeLine = line - 1;
  while (events[invokeLine]!.process !== done.process) invokeLine--;
  // Latest ok put completed before the get's invoke, then the latest ok put completed before that one's invoke.
  const okPuts = pairPuts(events, done.key);
  const newer = okPuts.filter((p) => p.returnLine < invokeLine).at(-1);
  if (newer === undefined) return undefined;
  const older = okPuts.filter((p) => p.returnLine < newer.callLine).at(-1);
  if (older === undefined) return undefined;
  return events.map((e, i) => (i === line ? { ...e, value: older.value } : e));
}

function pairPuts(events: readonly HistoryEvent[], key: string): { callLine: number; returnLine: number; value: string }[] {
  const open = new Map<number, number>();
  const out: { callLine: number; returnLine: number; value: string }[] = [];
  events.forEach((e, i) => {
    if (e.f !== 'put' || e.key !== key) return;
    if (e.type === 'invoke') open.set(e.process, i);
    else if (e.type === 'ok') {
      const callLine = open.get(e.process)!;
      out.push({ callLine, returnLine: i, value: events[callLine]!.value as string });
    }
  });
  return out;
}
