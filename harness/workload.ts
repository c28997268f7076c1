/**
 * Concurrent remote clients doing put/get/cas on a small key set, recording a Jepsen-style
 * history (DESIGN.md, sim/check/history.ts) as it happens, to memory and to a JSONL file.
 *
 * K slots run at once, each with its own RemoteClient (exactly-once sessions are the client's)
 * and one operation outstanding. A slot is driven by a "process": its id is the history's
 * `process`. As in sim/workload/kv-workload.ts, a write whose outcome is unknown (any error:
 * TIMEOUT, SESSION_EXPIRED, a lost connection) is recorded `info` and its process retires; a new
 * process id takes over the slot (and its client). A read that fails is `fail` (it changed
 * nothing), a cas whose comparison failed is `fail`, everything acknowledged is `ok`.
 *
 * Values are unique per write (`<process>.<n>`), so a value read names the one write that wrote it.
 * Times are wall-clock milliseconds (`Date.now()`): informational, the line order is what counts.
 *
 * Bounds: every operation has the client's own timeout (opTimeoutMs); an operation the client
 * fails to settle within opTimeoutMs + HANG_SLACK_MS is recorded as unknown and reported as a
 * hang; a run issues at most maxOps operations and stops at its deadline.
 */
import fs from 'node:fs';
import { connect } from '../src/client/connect.ts';
import type { RemoteClient } from '../src/client/remote-client.ts';
import type { NodeId } from '../src/raft/types.ts';
import type { HistoryEvent } from '../sim/check/history.ts';
import { SeededRandom } from '../sim/core/random.ts';
import { nowMs, sleep, within } from './time.ts';

export const DEFAULT_OP_TIMEOUT_MS = 5_000;
export const MAX_OP_TIMEOUT_MS = 60_000;
/** One attempt on one node; never more than half the operation's timeout, so there is time for a second. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 1_000;
export const DEFAULT_THINK_MS = Object.freeze({ min: 0, max: 20 });
export const DEFAULT_MAX_OPS = 500_000;
/** How far past its own timeout a client operation may run before the harness stops waiting. */
export const HANG_SLACK_MS = 5_000;
/** Attempts per key at the final reads (each one a recorded get). */
const FINAL_READ_ATTEMPTS = 10;

export interface WorkloadOptions {
  /** `id=host:port` of every node (clients connect to the nodes directly, not through the proxies). */
  readonly endpoints: readonly string[];
  readonly ids: readonly NodeId[];
  readonly secret: Uint8Array;
  readonly clusterId: string;
  readonly clients: number;
  readonly keys: number;
  readonly seed: number;
  readonly opTimeoutMs?: number;
  readonly attemptTimeoutMs?: number;
  readonly thinkMs?: { readonly min: number; readonly max: number };
  readonly maxOps?: number;
  /** Half the reads are lease reads (the nodes must serve them: `--lease-drift`). */
  readonly leaseReads?: boolean;
  /** Where the history is appended as it is recorded (JSON Lines). */
  readonly historyFile?: string;
}

export interface AckedWrite {
  readonly process: number;
  readonly f: 'put' | 'cas';
  readonly key: string;
  readonly value: string;
  /** The revision the cluster acknowledged it at. */
  readonly revision: number;
}

export interface WorkloadStats {
  invoked: number;
  ok: number;
  fail: number;
  info: number;
  /** Of the fails: reads that got no answer in time (the rest are cas whose comparison failed). */
  readFail: number;
  /** Operations the client did not settle within its timeout + HANG_SLACK_MS. */
  hung: number;
}

interface Slot {
  readonly index: number;
  readonly client: RemoteClient;
  pid: number;
  seq: number;
}

type Op =
  | { readonly f: 'get'; readonly key: string; readonly node: NodeId | undefined; readonly lease: boolean }
  | { readonly f: 'put'; readonly key: string; readonly value: string }
  | { readonly f: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

export class Workload {
  readonly history: HistoryEvent[] = [];
  readonly acked: AckedWrite[] = [];
  readonly stats: WorkloadStats = { invoked: 0, ok: 0, fail: 0, info: 0, readFail: 0, hung: 0 };
  readonly keys: readonly string[];
  private readonly random: SeededRandom;
  private readonly recent = new Map<string, string[]>();
  private nextPid = 0;
  private readonly out: fs.WriteStream | null;

  private constructor(
    readonly o: WorkloadOptions,
    private readonly slots: Slot[],
  ) {
    this.keys = Array.from({ length: o.keys }, (_, i) => `k${i}`);
    this.random = new SeededRandom(o.seed).fork('harness-workload');
    this.out = o.historyFile === undefined ? null : fs.createWriteStream(o.historyFile, { flags: 'w' });
    this.out?.on('error', () => {}); // the in-memory history is what gets checked
    for (const s of slots) s.pid = this.nextPid++;
  }

  /** Connects one client per slot (all nodes must be reachable enough for connect()). */
  static async open(o: WorkloadOptions): Promise<Workload> {
    if (!(Number.isSafeInteger(o.clients) && o.clients >= 1)) throw new RangeError(`clients must be a positive integer, got ${o.clients}`);
    if (!(Number.isSafeInteger(o.keys) && o.keys >= 1)) throw new RangeError(`keys must be a positive integer, got ${o.keys}`);
    const clients = await Promise.allSettled(Array.from({ length: o.clients }, () => openClient(o)));
    const failed = clients.find((c) => c.status === 'rejected');
    if (failed) {
      for (const c of clients) if (c.status === 'fulfilled') await c.value.close();
      throw failed.reason;
    }
    const slots = clients.map((c, index) => ({ index, client: (c as PromiseFulfilledResult<RemoteClient>).value, pid: 0, seq: 0 }));
    return new Workload(o, slots);
  }

  get processes(): number {
    return this.nextPid;
  }

  /** Runs every slot until `deadline` (a nowMs() value), `signal` aborts, or maxOps are issued. */
  async run(deadline: number, signal?: AbortSignal): Promise<void> {
    const maxOps = this.o.maxOps ?? DEFAULT_MAX_OPS;
    const think = this.o.thinkMs ?? DEFAULT_THINK_MS;
    await Promise.all(
      this.slots.map(async (slot) => {
        while (!signal?.aborted && nowMs() < deadline && this.stats.invoked < maxOps) {
          await sleep(think.min + this.random.nextFloat() * (think.max - think.min), signal);
          if (signal?.aborted || nowMs() >= deadline) break;
          await this.execute(slot, this.randomOp());
        }
      }),
    );
  }

  /**
   * One linearizable read of every key, recorded in the history (run after healing): they pin
   * down the final values for the checker. Returns the values read; a key none of whose
   * FINAL_READ_ATTEMPTS attempts succeeded within `budgetMs` in all is missing from the map.
   */
  async finalReads(budgetMs: number): Promise<Map<string, string | null>> {
    const end = nowMs() + budgetMs;
    const out = new Map<string, string | null>();
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i]!;
      const slot = this.slots[i % this.slots.length]!;
      for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS && nowMs() < end && !out.has(key); attempt++) {
        // Healed by now: a short --op-timeout-ms is about the faults, so these get at least the default.
        const timeoutMs = Math.max(1, Math.min(Math.max(this.opTimeoutMs, DEFAULT_OP_TIMEOUT_MS), end - nowMs()));
        const r = await this.execute(slot, { f: 'get', key, node: undefined, lease: false }, timeoutMs);
        if (r.type === 'ok') out.set(key, r.value);
        else await sleep(Math.min(200, end - nowMs()));
      }
    }
    return out;
  }

  /** Closes the clients and flushes the history file. */
  async close(): Promise<void> {
    await Promise.allSettled(this.slots.map((s) => s.client.close()));
    const out = this.out;
    if (out !== null) await new Promise<void>((r) => out.end(() => r()));
  }

  private get opTimeoutMs(): number {
    return this.o.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
  }

  private randomOp(): Op {
    const r = this.random;
    const key = r.pick(this.keys);
    const roll = r.nextFloat();
    if (roll < 0.4) {
      // Half the reads go to a chosen node first: a follower (or a cut-off deposed leader) must
      // still answer linearizably or not at all.
      const pinned = r.chance(0.5);
      const node = r.pick(this.o.ids);
      const lease = r.chance(0.5) && this.o.leaseReads === true;
      return { f: 'get', key, node: pinned ? node : undefined, lease };
    }
    if (roll < 0.75) return { f: 'put', key, value: '' };
    const seen = this.recent.get(key) ?? [];
    const useSeen = r.chance(0.8);
    const back = r.nextInt(3);
    const expected = useSeen && seen.length > 0 ? seen[Math.max(0, seen.length - 1 - back)]! : null;
    return { f: 'cas', key, expected, value: '' };
  }

  private freshValue(slot: Slot): string {
    return `${slot.pid}.${++slot.seq}`;
  }

  private remember(key: string, value: string): void {
    const list = this.recent.get(key) ?? [];
    list.push(value);
    if (list.length > 4) list.shift();
    this.recent.set(key, list);
  }

  private record(pid: number, type: HistoryEvent['type'], f: HistoryEvent['f'], key: string, value: HistoryEvent['value']): void {
    const e: HistoryEvent = { process: pid, type, f, key, value, time: Date.now() };
    this.history.push(e);
    this.out?.write(`${JSON.stringify(e)}\n`);
  }

  /** Invokes `op` as the slot's process, records its completion, retires the process after an info. */
  private async execute(slot: Slot, planned: Op, timeoutMs: number = this.opTimeoutMs): Promise<{ type: 'ok' | 'fail' | 'info'; value: string | null }> {
    const pid = slot.pid;
    const c = slot.client;
    const op: Op = planned.f === 'get' ? planned : { ...planned, value: this.freshValue(slot) };
    const invokeValue: HistoryEvent['value'] = op.f === 'get' ? null : op.f === 'put' ? op.value : [op.expected, op.value];
    if (op.f !== 'get') this.remember(op.key, op.value);
    this.stats.invoked++;
    this.record(pid, 'invoke', op.f, op.key, invokeValue);
    const hang = `${op.f} ${op.key} by process ${pid} did not settle within ${timeoutMs + HANG_SLACK_MS} ms`;
    let type: 'ok' | 'fail' | 'info';
    let value: string | null = null;
    try {
      switch (op.f) {
        case 'get':
          const read = { timeoutMs, consistency: op.lease ? ('lease' as const) : ('linearizable' as const), ...(op.node !== undefined && { node: op.node }) };
          value = await within(c.getString(op.key, read), timeoutMs + HANG_SLACK_MS, hang);
          type = 'ok';
          break;
        case 'put': {
          const res = await within(c.put(op.key, op.value, { timeoutMs }), timeoutMs + HANG_SLACK_MS, hang);
          this.acked.push({ process: pid, f: 'put', key: op.key, value: op.value, revision: res.revision });
          type = 'ok';
          break;
        }
        case 'cas': {
          const res = await within(c.cas(op.key, op.expected, op.value, { timeoutMs }), timeoutMs + HANG_SLACK_MS, hang);
          if (res.succeeded) {
            this.acked.push({ process: pid, f: 'cas', key: op.key, value: op.value, revision: res.revision });
            type = 'ok';
          } else {
            type = 'fail';
          }
          break;
        }
      }
    } catch (e) {
      if (e instanceof Error && e.message === hang) this.stats.hung++;
      // A read changed nothing; a write may or may not have happened.
      type = op.f === 'get' ? 'fail' : 'info';
    }
    this.stats[type]++;
    if (type === 'fail' && op.f === 'get') this.stats.readFail++;
    this.record(pid, type, op.f, op.key, op.f === 'get' ? (type === 'ok' ? value : null) : invokeValue);
    if (type === 'info') slot.pid = this.nextPid++; // Jepsen's rule: this process never issues again
    return { type, value };
  }
}

function openClient(o: WorkloadOptions): Promise<RemoteClient> {
  return connect({
    endpoints: o.endpoints,
    secret: o.secret,
    clusterId: o.clusterId,
    discover: false,
    timeoutMs: o.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS,
    attemptTimeoutMs: o.attemptTimeoutMs ?? Math.min(DEFAULT_ATTEMPT_TIMEOUT_MS, (o.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS) / 2),
    backoff: { minMs: 10, maxMs: 200 },
  });
}
