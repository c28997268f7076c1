/**
 * Wing–Gong / Lowe linearizability search for one key (Lowe, "Testing for linearizability", 2017;
 * the same shape as Porcupine's checker.go). Call and return entries form a linked list in real-time
 * order; linearizing an operation lifts its entries out, backtracking puts them back, and a memo cache
 * skips configurations already explored. `info` operations have no return entry: nothing forces them
 * in, so they take effect at any point after their call or never.
 *
 * Plain WGL branches on every order of concurrent operations. Four reductions cut that down without
 * changing the verdict (the arguments are in reductions.md; test/sim/check cross-checks them against
 * brute force):
 * - Just-in-time info writes: an info put/delete is placed only right before an operation that
 *   requires its value.
 * - Glued dead writes: an ok put/delete whose value nobody examines is placed only together with all
 *   other such writes that may run, right before a blind write, or alone when its return is the
 *   earliest pending one.
 * - Matching reads first: a candidate read that matches the state is tried alone.
 * - Starved values (demand.ts): a configuration where a pending ok operation requires a value that
 *   nobody pending can write, other than the current state, is abandoned at once.
 */
import { assert } from '../../src/util/assert.ts';
import { LinearizedSet } from './bitset.ts';
import { ValueDemand } from './demand.ts';
import { EntryList, NONE } from './entry-list.ts';
import type { Operation, Value } from './history.ts';
import { REJECT, RegisterModel } from './register-model.ts';
import { SeenCache } from './seen-cache.ts';

export type KeySearchResult =
  | { kind: 'ok' }
  | {
      kind: 'fail';
      /** An operation that could not be linearized after the longest linearizable prefix found. */
      blocked: Operation;
      /** Size of that prefix, out of `total` operations. */
      prefix: number;
      total: number;
      /** The register's value after that prefix. */
      state: Value;
    }
  | { kind: 'timeout' };

/** How many search steps run between deadline checks: reading a clock every step would dominate. */
const STEPS_PER_DEADLINE_CHECK = 4096;

const OK = 0; // an ok operation the walk branches on
const DEAD = 1; // an ok put/delete whose value nobody examines: glued before a blind write
const LISTED_INFO = 2; // an info cas: in the walk, with no return entry
const JIT = 3; // an info put/delete: placed just in time

interface Frame {
  /** The call entry linearized. */
  node: number;
  /** Where the walk over the configuration below resumes once this move is undone. */
  resume: number;
  resumeWithJit: boolean;
  /** The info write placed just before it, or NONE. */
  jit: number;
  /** Call entries of dead writes glued before it. */
  glued: readonly number[];
  /** True when the configuration below had no other option worth trying (a matching read). */
  forced: boolean;
  /** The configuration below: state, earliest pending return, dead writes that may be glued. */
  state: number;
  bound: number;
  gluable: readonly number[];
}

export function searchKey(ops: readonly Operation[], expired: () => boolean): KeySearchResult {
  const model = new RegisterModel(ops);
  const demand = new ValueDemand(ops, model);
  const kind = classify(ops, model);
  const listed: number[] = [];
  const jitByValue = new Map<number, number[]>(); // written value -> its info writes, in call order
  ops.forEach((_, i) => {
    if (kind[i] !== JIT) return void listed.push(i);
    const value = model.blindWrite(i);
    const writes = jitByValue.get(value) ?? [];
    writes.push(i);
    jitByValue.set(value, writes);
  });
  const list = new EntryList(ops, listed);
  const { head, tail, next, opOf, isCall, timeOf } = list;

  // Ok, info cas and info blind writes get a set each (bitset.ts and seen-cache.ts say why).
  const setIndex = (k: number): number => (k === OK || k === DEAD ? 0 : k === LISTED_INFO ? 1 : 2);
  const bit = new Int32Array(ops.length);
  const sizes = [0, 0, 0];
  ops.forEach((_, i) => (bit[i] = sizes[setIndex(kind[i]!)]!++));
  const sets = sizes.map((size, salt) => new LinearizedSet(size, salt + 1));
  const [okSet, listedInfoSet, jitSet] = sets as [LinearizedSet, LinearizedSet, LinearizedSet];
  const setOf = (op: number): LinearizedSet => sets[setIndex(kind[op]!)]!;

  const cache = new SeenCache();
  const stack: Frame[] = [];
  // Dead writes left over once the rest is linearized go at the end, so they are not counted.
  let remainingOk = ops.filter((op, i) => op.status === 'ok' && kind[i] !== DEAD).length;
  let state = model.initial;
  let bound = Infinity; // a candidate's call must precede this: the earliest pending return
  let gluable: readonly number[] = [];
  let entry = head;
  let arrived = true; // at a configuration not yet examined
  let withJit = false; // the walk at `entry` has tried the plain move and now tries the just-in-time one
  let depth = 0; // operations linearized, for the failure report
  let best: { blocked: number; prefix: number; state: number } | undefined;
  let steps = 0;

  const mark = (op: number, on: boolean): void => {
    if (on) {
      setOf(op).set(bit[op]!);
      demand.linearize(op);
    } else {
      setOf(op).clear(bit[op]!);
      demand.unlinearize(op);
    }
    depth += on ? 1 : -1;
    if (ops[op]!.status === 'ok' && kind[op] !== DEAD) remainingOk += on ? -1 : 1;
  };
  /** Any pending info write of `value` that may run now; from here on all such are interchangeable. */
  const jitWrite = (value: number): number => {
    for (const w of jitByValue.get(value) ?? []) {
      if (ops[w]!.callIndex >= bound) break;
      if (!jitSet.has(bit[w]!)) return w;
    }
    return NONE;
  };
  /** Linearizes `node`'s operation, after `jit` and glued dead writes, unless that was seen. */
  const tryPush = (node: number, jit: number, after: number, forced: boolean, resume: number, resumeWithJit = false): boolean => {
    const op = opOf[node]!;
    const glued = jit !== NONE || model.blindWrite(op) !== REJECT ? gluable.filter((g) => g !== node) : [];
    for (const g of glued) mark(opOf[g]!, true);
    if (jit !== NONE) mark(jit, true);
    mark(op, true);
    if (!cache.add(okSet, listedInfoSet, jitSet, after)) {
      mark(op, false);
      if (jit !== NONE) mark(jit, false);
      for (const g of glued) mark(opOf[g]!, false);
      return false;
    }
    stack.push({ node, resume, resumeWithJit, jit, glued, forced, state, bound, gluable });
    for (const g of glued) list.lift(g);
    list.lift(node);
    state = after;
    arrived = true;
    return true;
  };
  /** Undoes frames up to and including the nearest unforced one; false when none is left. */
  const backtrack = (): boolean => {
    for (;;) {
      const frame = stack.pop();
      if (frame === undefined) return false;
      list.unlift(frame.node);
      for (let k = frame.glued.length - 1; k >= 0; k--) list.unlift(frame.glued[k]!);
      mark(opOf[frame.node]!, false);
      if (frame.jit !== NONE) mark(frame.jit, false);
      for (const g of frame.glued) mark(opOf[g]!, false);
      ({ state, bound, gluable } = frame);
      if (!frame.forced) {
        entry = frame.resume;
        withJit = frame.resumeWithJit;
        return true;
      }
    }
  };
  /** The earliest pending ok operation requiring a starved value; only for the failure report. */
  const starvedOp = (): number => {
    const top = stack[stack.length - 1];
    const suspects = top === undefined ? demand.starvedOtherThan(state) : [top.state, top.jit === NONE ? REJECT : model.written(top.jit)];
    const starved = suspects.find((v) => v !== REJECT && v !== state && demand.isStarved(v));
    assert(starved !== undefined, 'dead configuration without a starved value');
    for (let e = next[head]!; e !== tail; e = next[e]!) {
      const op = opOf[e]!;
      if (ops[op]!.status === 'ok' && model.required(op) === starved) return op;
    }
    assert(false, 'starved value without a pending operation requiring it');
  };

  while (remainingOk > 0) {
    if (++steps % STEPS_PER_DEADLINE_CHECK === 0 && expired()) return { kind: 'timeout' };
    if (arrived) {
      arrived = false;
      if (demand.dead(state)) {
        if (best === undefined || depth > best.prefix) best = { blocked: starvedOp(), prefix: depth, state };
        if (backtrack()) continue;
        break;
      }
      let read = NONE;
      const dead: number[] = [];
      let e = next[head]!;
      for (; isCall[e] === 1; e = next[e]!) {
        const op = opOf[e]!;
        if (kind[op] === DEAD) dead.push(e);
        else if (read === NONE && model.isRead(op) && model.step(state, op) !== REJECT) read = e;
      }
      bound = timeOf[e]!;
      gluable = dead;
      entry = next[head]!;
      withJit = false;
      if (read !== NONE) {
        if (tryPush(read, NONE, state, true, NONE) || backtrack()) continue;
        break;
      }
    }
    // A pending ok operation's return entry always lies ahead, so the walk never runs off the end.
    assert(entry !== tail, 'WGL walked past the last return entry');
    const op = opOf[entry]!;
    if (isCall[entry] === 1) {
      if (kind[op] !== DEAD) {
        const after = model.step(state, op);
        if (!withJit) {
          withJit = true;
          if (after !== REJECT && tryPush(entry, NONE, after, false, entry, true)) continue;
        }
        // Just in time: needed when the state does not fit, or to glue dead writes before it.
        const required = model.required(op);
        if (required !== REJECT && (after === REJECT || gluable.length > 0)) {
          const jit = jitWrite(required);
          if (jit !== NONE && tryPush(entry, jit, model.step(required, op), false, next[entry]!)) continue;
        }
      }
      entry = next[entry]!;
      withJit = false;
      continue;
    }
    // The earliest pending return: that operation had to be linearized by now and was not. A dead
    // write may still go now, with the other gluable ones just before it.
    if (kind[op] === DEAD) {
      const call = gluable.find((g) => opOf[g] === op);
      assert(call !== undefined, 'a dead write at the earliest return is not gluable');
      if (tryPush(call, NONE, model.blindWrite(op), false, entry)) continue;
    }
    if (best === undefined || depth > best.prefix) best = { blocked: op, prefix: depth, state };
    if (!backtrack()) break;
  }
  if (remainingOk === 0) return { kind: 'ok' };
  assert(best !== undefined, 'WGL failed without meeting a return entry or a starved value');
  return { kind: 'fail', blocked: ops[best.blocked]!, prefix: best.prefix, total: ops.length, state: model.value(best.state) };
}

function classify(ops: readonly Operation[], model: RegisterModel): Uint8Array {
  const examined = new Set<number>();
  ops.forEach((_, i) => {
    if (model.required(i) !== REJECT) examined.add(model.required(i));
  });
  return Uint8Array.from(ops, (op, i) => {
    const written = model.blindWrite(i);
    if (op.status === 'info') return written === REJECT ? LISTED_INFO : JIT;
    return written !== REJECT && !examined.has(written) ? DEAD : OK;
  });
}
