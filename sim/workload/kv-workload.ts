/**
 * Concurrent clients doing put/get/cas/delete on a small key set through the simulated
 * cluster, recording a Jepsen-style history (DESIGN.md). Each process has one operation
 * outstanding. A write is retried (same session seq, so it applies at most once) on other
 * nodes until it gets an answer or its deadline passes; then its outcome is unknown (`info`)
 * and the process retires, a new one taking its place.
 *
 * Requests and responses travel as simulator events: a request is an event of the target node
 * (lost if it crashes, held if it is paused), a response an event of the environment.
 */
import { TesseraError, isTesseraError } from '../../src/errors.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { type KvCommand, type KvResult, encodeCommand } from '../../src/store/kv-command.ts';
import type { HistoryEvent } from '../check/history.ts';
import type { InvariantChecker } from '../check/invariants.ts';
import type { SeededRandom } from '../core/random.ts';
import { ENVIRONMENT, type Simulator, US_PER_MS } from '../core/simulator.ts';
import type { SimCluster } from '../cluster/sim-cluster.ts';

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  /** Pause between a process's operations (ms). */
  readonly thinkMs: { readonly min: number; readonly max: number };
  /** One attempt's timeout before trying another node (ms). */
  readonly attemptTimeoutMs: number;
  /** Give up on an operation after this long (ms). */
  readonly opTimeoutMs: number;
  /** One-way client <-> node latency (ms). */
  readonly clientDelayMs: { readonly min: number; readonly max: number };
  /** Issue some reads as lease reads (the cluster must have them enabled). */
  readonly leaseReads: boolean;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  clients: 8,
  keys: 5,
  thinkMs: { min: 0, max: 1000 },
  attemptTimeoutMs: 1500,
  opTimeoutMs: 6000,
  clientDelayMs: { min: 0.1, max: 1 },
  leaseReads: true,
};

type F = 'put' | 'get' | 'cas' | 'delete';

/** Back-off ceiling between attempts while there is no leader (ms). */
export const MAX_BACKOFF_MS = 100;

interface Op {
  readonly f: F;
  readonly key: string;
  /** put: new value; cas: [expected, new]; get/delete: null. */
  readonly value: string | null | [string | null, string];
  readonly data: Uint8Array | null;
  readonly started: number;
  attempt: number;
  /** get only: read under the leader's lease (when the cluster has lease reads on). */
  readonly lease?: boolean;
}

interface Process {
  pid: number;
  readonly slot: number;
  readonly clientId: string;
  seq: number;
  op: Op | null;
  leaderGuess: NodeId;
  /** Consecutive failed attempts, for exponential back-off. */
  failures: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class KvWorkload {
  readonly history: HistoryEvent[] = [];
  private readonly procs: Process[] = [];
  private nextPid = 0;
  private remaining = 0;
  private outstanding = 0;
  private readonly rng: SeededRandom;
  private readonly written = new Map<string, string[]>();
  private valueSeq = 0;
  private retired = 0;
  /** Operations invoked while this is set must all succeed (the liveness phase). */
  private strict = false;
  readonly strictFailures: string[] = [];
  acked = 0;

  constructor(
    private readonly sim: Simulator,
    private readonly cluster: SimCluster,
    private readonly checker: InvariantChecker,
    random: SeededRandom,
    readonly opts: WorkloadOptions = DEFAULT_WORKLOAD,
  ) {
    this.rng = random.fork('workload');
    for (let i = 0; i < opts.clients; i++) this.procs.push(this.newProcess(i));
  }

  private newProcess(slot: number): Process {
    const pid = this.nextPid++;
    return { pid, slot, clientId: `p${pid}`, seq: 0, op: null, leaderGuess: 0, failures: 0 };
  }

  /** Lets the processes run `ops` more operations. */
  run(ops: number, strict = false): void {
    this.strict = strict;
    this.remaining += ops;
    for (const p of this.procs) if (!p.op) this.scheduleNext(p, 0);
  }

  /** No operation is outstanding and none is left to issue. */
  get idle(): boolean {
    return this.remaining === 0 && this.outstanding === 0;
  }

  get infoCount(): number {
    return this.retired;
  }

  private keyName(i: number): string {
    return `k${i}`;
  }

  private scheduleNext(p: Process, thinkMs: number): void {
    this.sim.schedule(Math.round(thinkMs * US_PER_MS), ENVIRONMENT, () => {
      if (p.op || this.remaining <= 0) return;
      this.remaining--;
      this.invoke(p, this.randomOp(p));
    });
  }

  private randomOp(p: Process): Op {
    const r = this.rng;
    const key = this.keyName(r.nextInt(this.opts.keys));
    const roll = r.nextFloat();
    const now = this.sim.nowMs();
    const fresh = () => `${p.pid}.${++this.valueSeq}`;
    if (roll < 0.35) return { f: 'get', key, value: null, data: null, started: now, attempt: 0, lease: this.opts.leaseReads && r.chance(0.5) };
    if (roll < 0.65) {
      const v = fresh();
      this.remember(key, v);
      return { f: 'put', key, value: v, data: this.command(p, { op: 'put', key: enc.encode(key), value: enc.encode(v) }), started: now, attempt: 0 };
    }
    if (roll < 0.85) {
      const seen = this.written.get(key) ?? [];
      const expected = seen.length > 0 && r.chance(0.8) ? seen[seen.length - 1 - r.nextInt(Math.min(3, seen.length))]! : null;
      const v = fresh();
      this.remember(key, v);
      const cmd: KvCommand = { op: 'cas', key: enc.encode(key), expected: expected === null ? null : enc.encode(expected), value: enc.encode(v) };
      return { f: 'cas', key, value: [expected, v], data: this.command(p, cmd), started: now, attempt: 0 };
    }
    return { f: 'delete', key, value: null, data: this.command(p, { op: 'delete', key: enc.encode(key) }), started: now, attempt: 0 };
  }

  private remember(key: string, v: string): void {
    const list = this.written.get(key) ?? [];
    list.push(v);
    if (list.length > 8) list.shift();
    this.written.set(key, list);
  }

  private command(p: Process, cmd: KvCommand): Uint8Array {
    return encodeCommand({ ...cmd, session: { client: p.clientId, seq: ++p.seq } } as KvCommand);
  }

  private record(p: Process, type: HistoryEvent['type'], f: F, key: string, value: HistoryEvent['value']): void {
    this.history.push({ process: p.pid, type, f, key, value, time: Math.round(this.sim.nowMs() * 1000) });
  }

  private invoke(p: Process, op: Op): void {
    p.op = op;
    this.outstanding++;
    this.record(p, 'invoke', op.f, op.key, op.value);
    // Half the reads go to any node: a follower cut off with a deposed leader forwards to it,
    // which is where stale reads would show.
    const anyNode = op.f === 'get' && this.rng.chance(0.5);
    this.send(p, op, anyNode ? this.randomNode() : p.leaderGuess || this.randomNode(), ++op.attempt);
  }

  private randomNode(): NodeId {
    return this.rng.pick(this.cluster.ids);
  }

  /** Endpoints are tried in turn, so a dead node costs one attempt per round, never several in a row. */
  private nextNode(after: NodeId): NodeId {
    const ids = this.cluster.ids;
    return ids[(ids.indexOf(after) + 1) % ids.length]!;
  }

  private delayUs(): number {
    const d = this.opts.clientDelayMs;
    return Math.round((d.min + this.rng.nextFloat() * (d.max - d.min)) * US_PER_MS);
  }

  /** Sends attempt number `attempt` of `op`; answers and timeouts of older attempts are ignored. */
  private send(p: Process, op: Op, target: NodeId, attempt: number): void {
    const answer = (err: Error | null, result?: unknown) => {
      this.sim.schedule(this.delayUs(), ENVIRONMENT, () => this.onAnswer(p, op, attempt, target, err, result));
    };
    this.sim.schedule(this.delayUs(), target, () => {
      const node = this.cluster.node(target);
      // A crashed process's port refuses connections at once (a paused one would just be silent).
      if (!node) return answer(new TesseraError('CLOSED', `node ${target} refused the connection`));
      if (op.f === 'get') {
        // Half the reads take the leader's lease when it holds; the checker judges both kinds alike.
        const barrier = op.lease ? node.leaseReadBarrier : node.readBarrier;
        barrier.call(node, (err) => {
          if (err) return answer(err);
          // Read inside the barrier's callback: the state machine is at or past the read index now.
          const rec = this.cluster.stateMachine(target)!.get(enc.encode(op.key));
          answer(null, rec ? dec.decode(rec.value) : null);
        });
      } else {
        node.propose(op.data!, answer);
      }
    });
    this.sim.schedule(Math.round(this.opts.attemptTimeoutMs * US_PER_MS), ENVIRONMENT, () => {
      if (p.op === op && op.attempt === attempt) this.retry(p, op, this.nextNode(target), 0);
    });
  }

  private onAnswer(p: Process, op: Op, attempt: number, target: NodeId, err: Error | null, result: unknown): void {
    if (p.op !== op || op.attempt !== attempt) return; // a stale attempt's answer
    if (err) {
      const te = err as TesseraError;
      if (isTesseraError(err, 'NOT_LEADER') && te.leaderHint !== 0) {
        p.leaderGuess = te.leaderHint;
        return this.retry(p, op, te.leaderHint, 0);
      }
      p.leaderGuess = 0;
      // No leader, dropped, timed out, node stopped: back off exponentially (with jitter), then try the next node.
      const ceiling = Math.min(MAX_BACKOFF_MS, 10 * 2 ** Math.min(p.failures++, 10));
      return this.retry(p, op, this.nextNode(target), ceiling / 2 + this.rng.nextFloat() * (ceiling / 2));
    }
    p.failures = 0;
    p.leaderGuess = target;
    if (op.f === 'get') return this.complete(p, op, 'ok', result as string | null);
    const res = result as KvResult;
    if (res.ok) {
      this.checker.acknowledged(res.revision, op.data!, `${op.f} ${op.key} by process ${p.pid}`);
      this.acked++;
      return this.complete(p, op, 'ok', op.value);
    }
    if (res.reason === 'compare_failed') return this.complete(p, op, 'fail', op.value);
    this.checker.violation(`session: process ${p.pid}'s own pending command was answered '${res.reason}'`);
    return this.complete(p, op, 'info', op.value);
  }

  private retry(p: Process, op: Op, target: NodeId, backoffMs: number): void {
    if (this.sim.nowMs() - op.started >= this.opts.opTimeoutMs) {
      // Out of time. A read had no effect; a write may or may not have happened.
      return this.complete(p, op, op.f === 'get' ? 'fail' : 'info', op.value);
    }
    // Bumping the attempt number now silences the previous attempt during the back-off.
    const attempt = ++op.attempt;
    this.sim.schedule(Math.round(backoffMs * US_PER_MS), ENVIRONMENT, () => {
      if (p.op === op && op.attempt === attempt) this.send(p, op, target, attempt);
    });
  }

  private complete(p: Process, op: Op, type: 'ok' | 'fail' | 'info', value: HistoryEvent['value']): void {
    this.record(p, type, op.f, op.key, value);
    this.outstanding--;
    p.op = null;
    if (this.strict && type !== 'ok' && !(type === 'fail' && op.f === 'cas')) {
      this.strictFailures.push(`${op.f} ${op.key} by process ${p.pid} ended '${type}' after healing`);
    }
    if (type === 'info') {
      // Jepsen's rule: a process with an unknown outcome never issues again.
      this.retired++;
      const successor = this.newProcess(p.slot);
      this.procs[p.slot] = successor;
      this.scheduleNext(successor, 0);
      return;
    }
    const t = this.opts.thinkMs;
    this.scheduleNext(p, t.min + this.rng.nextFloat() * (t.max - t.min));
  }

  /** Final linearizable reads of every key, recorded in the history (run after healing). */
  finalReads(): void {
    for (let i = 0; i < this.opts.keys; i++) {
      const p = this.procs[i % this.procs.length]!;
      if (p.op) continue;
      this.invoke(p, { f: 'get', key: this.keyName(i), value: null, data: null, started: this.sim.nowMs(), attempt: 0 });
    }
  }
}
