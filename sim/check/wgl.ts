/**
 * Wing–Gong / Lowe linearizability search for one key (Lowe, "Testing for linearizability", 2017;
 * the same shape as Porcupine's checker.go). Call and return entries form a doubly linked list in
 * real-time order; linearizing an operation lifts its entries out, backtracking puts them back. A memo
 * cache of (linearized set, state) prunes configurations already explored, which is what makes the
 * search practical on long histories.
 *
 * `info` operations have a call entry but no return entry: nothing forces them to be linearized, so
 * they can take effect at any point after their call or never, and the search succeeds once every
 * `ok` operation is linearized.
 */
import { assert } from '../../src/util/assert.ts';
import { LinearizedSet, type BitsetSnapshot } from './bitset.ts';
import type { Operation, Value } from './history.ts';
import { REJECT, RegisterModel } from './register-model.ts';

export type KeySearchResult =
  | { kind: 'ok' }
  | {
      kind: 'fail';
      /** The operation whose return could not be passed at the deepest point of the search. */
      blocked: Operation;
      /** Size of the longest linearizable prefix found, out of `total` operations. */
      prefix: number;
      total: number;
      /** The register's value after that prefix. */
      state: Value;
    }
  | { kind: 'timeout' };

/** How many search steps run between deadline checks: reading a clock every step would dominate. */
const STEPS_PER_DEADLINE_CHECK = 4096;

interface CacheEntry {
  readonly state: number;
  readonly set: BitsetSnapshot;
}

class SeenCache {
  private readonly buckets = new Map<number, CacheEntry[]>();

  /** Records (set, state); false if it was already there. */
  add(set: LinearizedSet, state: number): boolean {
    const lo = (set.hashLo ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0;
    const hi = (set.hashHi ^ Math.imul(state + 1, 0x85ebca77)) & 0x1fffff;
    const key = hi * 0x1_0000_0000 + lo; // 53 bits: exact as a Map key
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(key, bucket);
    }
    for (const e of bucket) {
      if (e.state === state && set.equals(e.set)) return false;
    }
    bucket.push({ state, set: set.snapshot() });
    return true;
  }
}

export function searchKey(ops: readonly Operation[], expired: () => boolean): KeySearchResult {
  const n = ops.length;
  const model = new RegisterModel(ops);

  // Node 0 is the head sentinel, node count+1 the tail sentinel; entry nodes sit in between.
  const times: { time: number; op: number; call: boolean }[] = [];
  ops.forEach((op, i) => {
    times.push({ time: op.callIndex, op: i, call: true });
    if (op.returnIndex !== Infinity) times.push({ time: op.returnIndex, op: i, call: false });
  });
  times.sort((a, b) => a.time - b.time);
  const count = times.length;
  const head = 0;
  const tail = count + 1;
  const prev = new Int32Array(count + 2);
  const next = new Int32Array(count + 2);
  const opOf = new Int32Array(count + 2);
  const isCall = new Uint8Array(count + 2);
  const returnNode = new Int32Array(n).fill(-1);
  for (let node = 0; node <= tail; node++) {
    prev[node] = node - 1;
    next[node] = node + 1;
  }
  times.forEach((t, k) => {
    const node = k + 1;
    opOf[node] = t.op;
    isCall[node] = t.call ? 1 : 0;
    if (!t.call) returnNode[t.op] = node;
  });

  const unlink = (node: number): void => {
    next[prev[node]!] = next[node]!;
    prev[next[node]!] = prev[node]!;
  };
  const relink = (node: number): void => {
    next[prev[node]!] = node;
    prev[next[node]!] = node;
  };
  // Lifting removes the call and then the return; relinking must undo in the reverse order.
  const lift = (callNode: number): void => {
    unlink(callNode);
    const r = returnNode[opOf[callNode]!]!;
    if (r >= 0) unlink(r);
  };
  const unlift = (callNode: number): void => {
    const r = returnNode[opOf[callNode]!]!;
    if (r >= 0) relink(r);
    relink(callNode);
  };

  const linearized = new LinearizedSet(n);
  const cache = new SeenCache();
  const stackNode: number[] = [];
  const stackState: number[] = [];
  const stackForced: boolean[] = [];
  let remainingOk = ops.filter((op) => op.status === 'ok').length;
  let state = model.initial;
  let entry = head;
  let arrived = true; // at a configuration not yet examined
  let best: { blocked: number; prefix: number; state: number } | undefined;
  let steps = 0;

  const push = (node: number, after: number, forced: boolean): void => {
    stackNode.push(node);
    stackState.push(state);
    stackForced.push(forced);
    state = after;
    lift(node);
    if (ops[opOf[node]!]!.status === 'ok') remainingOk--;
    arrived = true;
  };
  /** Undoes frames up to and including the nearest unforced one; false when none is left. */
  const backtrack = (): boolean => {
    for (;;) {
      const node = stackNode.pop();
      if (node === undefined) return false;
      state = stackState.pop()!;
      const op = opOf[node]!;
      linearized.clear(op);
      unlift(node);
      if (ops[op]!.status === 'ok') remainingOk++;
      if (!stackForced.pop()) {
        entry = next[node]!;
        return true;
      }
    }
  };
  /** A candidate read that matches the current state, or -1. */
  const matchingRead = (): number => {
    for (let e = next[head]!; e !== tail && isCall[e] === 1; e = next[e]!) {
      const op = opOf[e]!;
      if (model.isRead(op) && model.step(state, op) !== REJECT) return e;
    }
    return -1;
  };

  while (remainingOk > 0) {
    if (++steps % STEPS_PER_DEADLINE_CHECK === 0 && expired()) return { kind: 'timeout' };
    if (arrived) {
      arrived = false;
      entry = next[head]!;
      // Partial-order reduction: a candidate read that matches the state can be moved to the front
      // of any linearization of this configuration (it changes nothing and nothing must precede
      // it), so the configuration is linearizable iff it is after that read. Try nothing else.
      const read = matchingRead();
      if (read >= 0) {
        linearized.set(opOf[read]!);
        if (cache.add(linearized, state)) {
          push(read, state, true);
          continue;
        }
        linearized.clear(opOf[read]!);
        if (!backtrack()) break;
        continue;
      }
    }
    // A pending ok operation's return entry always lies ahead, so the walk never runs off the end.
    assert(entry !== tail, 'WGL walked past the last return entry');
    const op = opOf[entry]!;
    if (isCall[entry] === 1) {
      const after = model.step(state, op);
      if (after !== REJECT) {
        linearized.set(op);
        if (cache.add(linearized, after)) {
          push(entry, after, false);
          continue;
        }
        linearized.clear(op);
      }
      entry = next[entry]!;
      continue;
    }
    // A return entry: its operation had to be linearized by now and was not.
    if (best === undefined || stackNode.length > best.prefix) best = { blocked: op, prefix: stackNode.length, state };
    if (!backtrack()) break;
  }
  if (remainingOk === 0) return { kind: 'ok' };
  assert(best !== undefined, 'WGL failed without meeting a return entry');
  return { kind: 'fail', blocked: ops[best.blocked]!, prefix: best.prefix, total: n, state: model.value(best.state) };
}
