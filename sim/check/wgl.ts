/**
 * Wing–Gong / Lowe linearizability search for one key (Lowe, "Testing for linearizability", 2017;
 * the same shape as Porcupine's checker.go). Call and return entries form a linked list in real-time
 * order; linearizing an operation lifts its entries out, backtracking puts them back, and a memo cache
 * of (linearized set, state) skips configurations already explored.
 *
 * `info` operations have no return entry: nothing forces them to be linearized, so they take effect
 * at any point after their call or never, and the search succeeds once every `ok` operation is in.
 *
 * Three reductions keep crashed clients and high concurrency from multiplying configurations:
 * - Just-in-time info writes. In any linearization, the operations between a write and the next write
 *   all see its value, so they are reads of it or cas ops expecting it. An info put/delete followed
 *   directly by another write can be dropped; so one may assume each is immediately followed by an
 *   operation requiring its value, and the search places info writes only there.
 * - Matching reads first. A candidate read that matches the current state can be moved to the front of
 *   any linearization of the configuration (it changes nothing and nothing has to precede it), so the
 *   configuration is linearizable iff it is after that read: the search tries the read alone.
 * - Starved values (demand.ts): a configuration in which some pending ok operation requires a value
 *   nobody pending can write, other than the current one, is abandoned at once.
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

interface Frame {
  /** The call entry linearized. */
  node: number;
  /** The info write placed just before it, or NONE. */
  jit: number;
  /** True when the configuration below had no other option worth trying (a matching read). */
  forced: boolean;
  /** State and first pending return time of the configuration below. */
  state: number;
  bound: number;
}

export function searchKey(ops: readonly Operation[], expired: () => boolean): KeySearchResult {
  const model = new RegisterModel(ops);
  const demand = new ValueDemand(ops, model);
  // Three kinds of operation, each with dense bit positions in a set of its own (bitset.ts and
  // seen-cache.ts say why): ok, listed info (cas), and info blind writes placed just in time.
  const OK = 0;
  const LISTED_INFO = 1;
  const JIT = 2;
  const kind = new Uint8Array(ops.length);
  const bit = new Int32Array(ops.length);
  const sizes = [0, 0, 0];
  const listed: number[] = [];
  const jitByValue = new Map<number, number[]>(); // written value -> info blind writes, in call order
  ops.forEach((op, i) => {
    const value = model.blindWrite(i);
    const k = op.status === 'ok' ? OK : value === REJECT ? LISTED_INFO : JIT;
    kind[i] = k;
    bit[i] = sizes[k]!++;
    if (k !== JIT) return void listed.push(i);
    const writes = jitByValue.get(value) ?? [];
    writes.push(i);
    jitByValue.set(value, writes);
  });
  const list = new EntryList(ops, listed);
  const { head, tail, next, opOf, isCall, timeOf } = list;
  const sets = sizes.map((size, salt) => new LinearizedSet(size, salt + 1));
  const [okSet, listedInfoSet, jitSet] = sets as [LinearizedSet, LinearizedSet, LinearizedSet];
  const setOf = (op: number): LinearizedSet => sets[kind[op]!]!;
  const cache = new SeenCache();
  const stack: Frame[] = [];
  let remainingOk = okSet.size;
  let state = model.initial;
  let bound = Infinity; // a candidate's call must precede this: the earliest pending return
  let entry = head;
  let arrived = true; // at a configuration not yet examined
  let depth = 0; // operations linearized, counting just-in-time writes
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
    if (ops[op]!.status === 'ok') remainingOk += on ? -1 : 1;
  };
  /** Any pending info write of `value` that may run now; from here on all such are interchangeable. */
  const jitWrite = (value: number): number => {
    for (const w of jitByValue.get(value) ?? []) {
      if (ops[w]!.callIndex >= bound) break;
      if (!jitSet.has(bit[w]!)) return w;
    }
    return NONE;
  };
  /** Linearizes `node`'s operation (after `jit` if any) unless that configuration was seen. */
  const tryPush = (node: number, jit: number, after: number, forced: boolean): boolean => {
    if (jit !== NONE) mark(jit, true);
    mark(opOf[node]!, true);
    if (!cache.add(okSet, listedInfoSet, jitSet, after)) {
      mark(opOf[node]!, false);
      if (jit !== NONE) mark(jit, false);
      return false;
    }
    stack.push({ node, jit, forced, state, bound });
    state = after;
    list.lift(node);
    arrived = true;
    return true;
  };
  /** Undoes frames up to and including the nearest unforced one; false when none is left. */
  const backtrack = (): boolean => {
    for (;;) {
      const frame = stack.pop();
      if (frame === undefined) return false;
      list.unlift(frame.node);
      mark(opOf[frame.node]!, false);
      if (frame.jit !== NONE) mark(frame.jit, false);
      state = frame.state;
      bound = frame.bound;
      if (!frame.forced) {
        entry = next[frame.node]!;
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
      entry = next[head]!;
      let read = NONE;
      let e = entry;
      for (; isCall[e] === 1; e = next[e]!) {
        if (read === NONE && model.isRead(opOf[e]!) && model.step(state, opOf[e]!) !== REJECT) read = e;
      }
      bound = timeOf[e]!;
      if (read !== NONE) {
        if (tryPush(read, NONE, state, true) || backtrack()) continue;
        break;
      }
    }
    // A pending ok operation's return entry always lies ahead, so the walk never runs off the end.
    assert(entry !== tail, 'WGL walked past the last return entry');
    const op = opOf[entry]!;
    if (isCall[entry] === 1) {
      const after = model.step(state, op);
      if (after !== REJECT) {
        if (tryPush(entry, NONE, after, false)) continue;
      } else {
        const jit = jitWrite(model.required(op));
        if (jit !== NONE && tryPush(entry, jit, model.step(model.required(op), op), false)) continue;
      }
      entry = next[entry]!;
      continue;
    }
    // A return entry: its operation had to be linearized by now and was not.
    if (best === undefined || depth > best.prefix) best = { blocked: op, prefix: depth, state };
    if (!backtrack()) break;
  }
  if (remainingOk === 0) return { kind: 'ok' };
  assert(best !== undefined, 'WGL failed without meeting a return entry or a starved value');
  return { kind: 'fail', blocked: ops[best.blocked]!, prefix: best.prefix, total: ops.length, state: model.value(best.state) };
}
