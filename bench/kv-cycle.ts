/**
 * Where one round of the w64 pipeline goes, on the leader: from the start of a log save with
 * new entries to the start of the next one. With 64 clients in a closed loop, every put of a
 * round waits for the same commit, so the rounds follow each other and their parts add up:
 *
 *   save        the leader's log save, issue to durable (fsync on lmdb-js's writer thread)
 *   follower    durable to the start of the apply: waiting for the first follower's ack
 *   apply       the leader's apply of the committed batch (its synchronous part)
 *   clients     apply end to the first new proposal: results to the clients and back
 *   next save   first new proposal to the next save's start (the Ready loop)
 *
 * Also: how long after the leader's each follower starts its own save (the hop of the append
 * message), and how long those saves take. Counting wraps LmdbLogStore.save, the state
 * machine's asynchronous apply and Node.propose; what they do is unchanged.
 */
import { performance } from 'node:perf_hooks';
import { Node } from '../src/cluster/node.ts';
import { KvStateMachineCore } from '../src/store/kv-state-machine-core.ts';
import { LmdbLogStore } from '../src/store/lmdb-log-store.ts';
import { nodeOf } from './kv-lib.ts';

interface Span {
  readonly start: number;
  end: number;
}

export interface CycleBreakdown {
  readonly cycles: number;
  readonly saveMs: number;
  readonly followerMs: number;
  readonly applyMs: number;
  readonly clientsMs: number;
  readonly nextSaveMs: number;
  /** Per follower id: mean delay of its save start after the leader's, and mean save duration. */
  readonly followers: ReadonlyMap<number, { readonly hopMs: number; readonly saveMs: number }>;
}

let recording = false;
const saves = new Map<number, Span[]>();
const applies = new Map<number, Span[]>();
const proposals = new Map<number, number[]>();

function push<T>(m: Map<number, T[]>, id: number, v: T): void {
  const list = m.get(id);
  if (list) list.push(v);
  else m.set(id, [v]);
}

let installed = false;

/** Wrapped methods of the code under test: a rename must break the benchmark, not silence it. */
function requireMethod(owner: object, name: string, what: string): void {
  if (typeof (owner as Record<string, unknown>)[name] !== 'function') throw new Error(`kv-cycle: ${what}.${name} is not a method any more; update bench/kv-cycle.ts`);
}

/** Installs the wrappers (once); nothing is recorded until startCycles(). */
export function instrumentCycles(): void {
  if (installed) return;
  installed = true;
  requireMethod(LmdbLogStore.prototype, 'save', 'LmdbLogStore');
  requireMethod(KvStateMachineCore.prototype, 'applyOffLoop', 'KvStateMachineCore');
  requireMethod(Node.prototype, 'propose', 'Node');
  const logProto = LmdbLogStore.prototype as unknown as { save(this: LmdbLogStore, hs: unknown, entries: readonly unknown[], done: (e?: Error) => void): void };
  const save = logProto.save;
  logProto.save = function (hs, entries, done) {
    if (!recording || entries.length === 0) return save.call(this, hs, entries, done);
    const span: Span = { start: performance.now(), end: -1 };
    push(saves, nodeOf(this.directory), span);
    return save.call(this, hs, entries, (e) => {
      span.end = performance.now();
      done(e);
    });
  };
  // The state machine knows its directory only through its storage (lmdb-kv.ts).
  const smProto = KvStateMachineCore.prototype as unknown as { applyOffLoop(this: { storage: { dir?: string } }, ...a: unknown[]): void };
  const applyOffLoop = smProto.applyOffLoop;
  smProto.applyOffLoop = function (...a) {
    if (!recording) return applyOffLoop.apply(this, a);
    const span: Span = { start: performance.now(), end: -1 };
    try {
      return applyOffLoop.apply(this, a);
    } finally {
      span.end = performance.now();
      push(applies, nodeOf(this.storage.dir ?? ''), span);
    }
  };
  const nodeProto = Node.prototype as unknown as { propose(this: Node, c: Uint8Array): unknown };
  const propose = nodeProto.propose;
  nodeProto.propose = function (c) {
    if (recording) push(proposals, this.id, performance.now());
    return propose.call(this, c);
  };
}

export function startCycles(): void {
  saves.clear();
  applies.clear();
  proposals.clear();
  recording = true;
}

/**
 * Stops recording; the breakdown of the leader's rounds since startCycles(), null if no whole
 * round was seen. Throws if the leader saved but no apply or proposal was seen: a wrapper
 * no longer sees what it should (say, the state machine's directory moved).
 */
export function stopCycles(leader: number): CycleBreakdown | null {
  recording = false;
  const ls = (saves.get(leader) ?? []).filter((s) => s.end >= 0);
  const as = applies.get(leader) ?? [];
  const ps = proposals.get(leader) ?? [];
  if (ls.length > 1 && (as.length === 0 || ps.length === 0)) {
    throw new Error(`kv-cycle: node ${leader} saved ${ls.length} times but ${as.length} applies and ${ps.length} proposals were seen; update bench/kv-cycle.ts`);
  }
  let n = 0;
  const sum = { save: 0, follower: 0, apply: 0, clients: 0, nextSave: 0 };
  let a = 0;
  let p = 0;
  for (let i = 0; i + 1 < ls.length; i++) {
    const s = ls[i]!;
    const next = ls[i + 1]!;
    // The apply that committed this save's entries: the first to start after it was durable.
    while (a < as.length && as[a]!.start < s.end) a++;
    const ap = as[a];
    if (ap === undefined || ap.end > next.start) continue;
    while (p < ps.length && ps[p]! < ap.end) p++;
    const first = ps[p];
    if (first === undefined || first > next.start) continue;
    sum.save += s.end - s.start;
    sum.follower += ap.start - s.end;
    sum.apply += ap.end - ap.start;
    sum.clients += first - ap.end;
    sum.nextSave += next.start - first;
    n++;
  }
  if (n === 0) return null;
  const followers = new Map<number, { hopMs: number; saveMs: number }>();
  for (const [id, fs] of saves) {
    if (id === leader) continue;
    let hop = 0;
    let dur = 0;
    let k = 0;
    let m = 0;
    for (const s of ls) {
      while (k < fs.length && fs[k]!.start < s.start) k++;
      const f = fs[k];
      if (f === undefined || f.end < 0) break;
      hop += f.start - s.start;
      dur += f.end - f.start;
      m++;
    }
    if (m > 0) followers.set(id, { hopMs: hop / m, saveMs: dur / m });
  }
  return { cycles: n, saveMs: sum.save / n, followerMs: sum.follower / n, applyMs: sum.apply / n, clientsMs: sum.clients / n, nextSaveMs: sum.nextSave / n, followers };
}
