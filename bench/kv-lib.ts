/**
 * Helpers of bench/kv.ts: timed closed-loop phases with latency percentiles, the raw-LMDB group
 * committer used as the same-run baseline, and counters around the LMDB stores' durable commits.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RootDatabase } from 'lmdb';
import { KvStateMachineCore } from '../src/store/kv-state-machine-core.ts';
import { InProcessNetwork } from '../src/net/in-process-transport.ts';
import type { Message } from '../src/raft/types.ts';
import { LmdbKvBackend } from '../src/store/lmdb-kv-backend.ts';
import { batchStartedNow, buf, type BinaryDb } from '../src/store/lmdb-env.ts';
import { LmdbLogStore } from '../src/store/lmdb-log-store.ts';

export interface PhaseResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  /** Milliseconds, null when latencies were not recorded. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /**
   * CPU time of the whole process (every thread, user + system) per op, in microseconds: what
   * an op costs, which other load on a shared machine disturbs far less than ops/s.
   */
  readonly cpuUsPerOp: number;
  readonly firstError: unknown;
}

/**
 * `workers` closed loops, each running `op` back to back until `seconds` have passed; ops/s is
 * counted over the time until the last loop finished its last op. Failed ops are counted, not
 * retried (the client already retries internally).
 */
export async function closedLoop(
  workers: number,
  seconds: number,
  op: (worker: number, n: number) => Promise<unknown>,
  recordLatency = true,
): Promise<PhaseResult> {
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const end = start + seconds * 1000;
  const lat: number[] = [];
  let ops = 0;
  let errors = 0;
  let firstError: unknown = null;
  const loop = async (w: number) => {
    for (let n = 0; performance.now() < end; n++) {
      const t = performance.now();
      try {
        await op(w, n);
        ops++;
        if (recordLatency) lat.push(performance.now() - t);
      } catch (e) {
        errors++;
        firstError ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  const took = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuUsPerOp = (cpu.user + cpu.system) / Math.max(1, ops);
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length === 0 ? null : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!);
  return { ops, errors, seconds: took, opsPerSec: ops / took, p50Ms: recordLatency ? q(0.5) : null, p99Ms: recordLatency ? q(0.99) : null, cpuUsPerOp, firstError };
}

/**
 * A raw-LMDB baseline committed on the event loop: puts queue up while a commit runs, and the
 * next macrotask commits everything queued in ONE durable transactionSync (the environment
 * flags of the log store; its synchronous mode commits this way), then resolves them all, as a
 * Raft node does with the proposals that arrived during its previous Ready.
 */
export class GroupCommitter {
  private pending: { key: Buffer; value: Buffer; resolve: () => void }[] = [];
  private scheduled = false;
  commits = 0;
  puts = 0;
  /** Milliseconds inside transactionSync. */
  ms = 0;

  constructor(
    private readonly env: RootDatabase,
    private readonly db: BinaryDb,
  ) {}

  resetCounts(): void {
    this.commits = 0;
    this.puts = 0;
    this.ms = 0;
  }

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return new Promise<void>((resolve) => {
      this.pending.push({ key: buf(key), value: buf(value), resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    const t = performance.now();
    this.env.transactionSync(() => {
      for (const p of batch) this.db.putSync(p.key, p.value);
    });
    this.ms += performance.now() - t;
    this.commits++;
    this.puts += batch.length;
    for (const p of batch) p.resolve();
  }
}

/**
 * The raw-LMDB baseline committed the way the log store commits now: puts queue up while a
 * commit is in flight, and everything queued goes in the next ONE batch of lmdb-js write
 * instructions, started at once on its writer thread (batchStartedNow, an environment opened
 * with writesStartAtOnce, as LmdbLogStore opens its own), one batch in flight at a time, as a
 * log store chains its saves. The event loop stays free while the writer thread commits.
 */
export class AsyncGroupCommitter {
  private pending: { key: Buffer; value: Buffer; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private busy = false;

  constructor(private readonly db: BinaryDb) {}

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ key: buf(key), value: buf(value), resolve, reject });
      if (!this.busy) {
        this.busy = true;
        // Puts issued in the same synchronous run join the batch, as proposals join a Ready.
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) {
      this.busy = false;
      return;
    }
    batchStartedNow(this.db, ABSENT_KEY, () => {
      for (const p of batch) void this.db.put(p.key, p.value);
    }).then(
      () => {
        for (const p of batch) p.resolve();
        this.flush();
      },
      (e: unknown) => {
        for (const p of batch) p.reject(e);
        this.flush();
      },
    );
  }
}

/** Bench keys are short strings: this one is never among them. */
const ABSENT_KEY = Buffer.alloc(600, 0xff);

/** Durable commits of the cluster's stores, and the main-thread time spent in them. */
export interface CommitStats {
  /**
   * Per node id: log-store save() calls that wrote (one transactionSync each), of which
   * hardState-only (no entries: a new commit index, or term/vote), entries, ms inside.
   */
  readonly log: Map<number, LogCounters>;
  /** Per node id: state-machine batches (one transactionSync per applied batch), entries applied, ms inside. */
  readonly state: Map<number, StateCounters>;
  /** Messages sent on the in-process network, by type. */
  readonly messages: Map<string, number>;
  /** LMDB's last transaction id per store environment ("log n1", "state n2"): differences are commits. */
  readonly txns: Map<string, number>;
}

export interface LogCounters {
  commits: number;
  hardStateOnly: number;
  entries: number;
  ms: number;
}
export interface StateCounters {
  commits: number;
  entries: number;
  ms: number;
}

const stats: CommitStats = { log: new Map(), state: new Map(), messages: new Map(), txns: new Map() };

/**
 * The environments the cluster's stores write, by "log n<id>" / "state n<id>", seen at their
 * first write. LMDB's own transaction id counts the commits that really happened (lmdb-js may
 * merge several asynchronous childTransactions into one), hence the flushes.
 */
const envs = new Map<string, RootDatabase>();

function envTxnId(env: RootDatabase): number {
  return (env.getStats() as { lastTxnId: number }).lastTxnId;
}

/** The node id in a store's path (`.../node-<id>/...`), 0 if none. */
export function nodeOf(dir: string): number {
  const m = /node-(\d+)/.exec(dir);
  return m ? Number(m[1]) : 0;
}

/**
 * Wraps LmdbLogStore.save and LmdbKvBackend.batch (counting only: the calls are unchanged), so
 * the report can say how many fsync-bearing commits each node made and how long the event loop
 * sat in them.
 */
export function instrumentStores(): CommitStats {
  const logProto = LmdbLogStore.prototype as unknown as { save: (this: LmdbLogStore, ...a: unknown[]) => void };
  const save = logProto.save;
  logProto.save = function (this: LmdbLogStore, ...args: unknown[]) {
    envs.set(`log n${nodeOf(this.directory)}`, (this as unknown as { env: RootDatabase }).env);
    const [hardState, entries] = args as [unknown, readonly unknown[]];
    const t = performance.now();
    try {
      return save.apply(this, args);
    } finally {
      if (hardState !== null || entries.length > 0) {
        const id = nodeOf(this.directory);
        const s = stats.log.get(id) ?? { commits: 0, hardStateOnly: 0, entries: 0, ms: 0 };
        s.commits++;
        if (entries.length === 0) s.hardStateOnly++;
        s.entries += entries.length;
        s.ms += performance.now() - t;
        stats.log.set(id, s);
      }
    }
  };
  // apply() runs one batch(): remember its size for the batch counter.
  let applying = 0;
  const coreProto = KvStateMachineCore.prototype as unknown as { apply: (this: unknown, entries: readonly unknown[]) => unknown };
  const apply = coreProto.apply;
  coreProto.apply = function (this: unknown, entries: readonly unknown[]) {
    applying = entries.length;
    try {
      return apply.call(this, entries);
    } finally {
      applying = 0;
    }
  };
  const kvProto = LmdbKvBackend.prototype as unknown as { batch: (this: LmdbKvBackend, fn: () => unknown) => unknown };
  const batch = kvProto.batch;
  kvProto.batch = function (this: LmdbKvBackend, fn: () => unknown) {
    const t = performance.now();
    try {
      return batch.call(this, fn);
    } finally {
      const id = nodeOf(this.dir);
      const s = stats.state.get(id) ?? { commits: 0, entries: 0, ms: 0 };
      s.commits++;
      s.entries += applying;
      s.ms += performance.now() - t;
      stats.state.set(id, s);
    }
  };
  // Asynchronous apply batches (real nodes): remember the environment they commit to.
  const asyncProto = LmdbKvBackend.prototype as unknown as { commitAsync: (this: LmdbKvBackend, ...a: unknown[]) => unknown };
  const commitAsync = asyncProto.commitAsync;
  asyncProto.commitAsync = function (this: LmdbKvBackend, ...args: unknown[]) {
    envs.set(`state n${nodeOf(this.dir)}`, (this as unknown as { env: RootDatabase }).env);
    return commitAsync.apply(this, args);
  };
  const netProto = InProcessNetwork.prototype as unknown as { enqueue: (this: InProcessNetwork, m: Message) => void };
  const enqueue = netProto.enqueue;
  netProto.enqueue = function (this: InProcessNetwork, m: Message) {
    stats.messages.set(m.type, (stats.messages.get(m.type) ?? 0) + 1);
    return enqueue.call(this, m);
  };
  return stats;
}

export function snapshotStats(): CommitStats {
  return {
    log: new Map([...stats.log].map(([k, v]) => [k, { ...v }])),
    state: new Map([...stats.state].map(([k, v]) => [k, { ...v }])),
    messages: new Map(stats.messages),
    txns: new Map([...envs].filter(([, env]) => (env as { status?: string }).status !== 'closed').map(([k, env]) => [k, envTxnId(env)])),
  };
}

export function diffStats(a: CommitStats, b: CommitStats): CommitStats {
  const log = new Map<number, LogCounters>();
  for (const [k, v] of b.log) {
    const o = a.log.get(k) ?? { commits: 0, hardStateOnly: 0, entries: 0, ms: 0 };
    log.set(k, { commits: v.commits - o.commits, hardStateOnly: v.hardStateOnly - o.hardStateOnly, entries: v.entries - o.entries, ms: v.ms - o.ms });
  }
  const state = new Map<number, StateCounters>();
  for (const [k, v] of b.state) {
    const o = a.state.get(k) ?? { commits: 0, entries: 0, ms: 0 };
    state.set(k, { commits: v.commits - o.commits, entries: v.entries - o.entries, ms: v.ms - o.ms });
  }
  const messages = new Map<string, number>();
  for (const [k, v] of b.messages) messages.set(k, v - (a.messages.get(k) ?? 0));
  const txns = new Map<string, number>();
  for (const [k, v] of b.txns) if (a.txns.has(k)) txns.set(k, v - a.txns.get(k)!);
  return { log, state, messages, txns };
}

/** The file-system type under `dir` (statfs magic), to warn when the "disk" is really RAM. */
export function fsKind(dir: string): string {
  const kinds: Record<number, string> = { 0x01021994: 'tmpfs', 0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs' };
  try {
    const t = fs.statfsSync(dir).type;
    return kinds[t] ?? `0x${t.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

export function fmtRate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtMs(n: number | null): string {
  return n === null ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(1);
}
