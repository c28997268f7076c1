/**
 * KvBackend over one LMDB environment: a named LMDB database per table, one write transaction
 * per batch (transactionSync: atomic, and durable when it returns; or, with asyncCommits, child
 * transactions of a grouped lmdb-js asynchronous transaction, see commitAsync), read
 * transactions for views.
 */
import fs from 'node:fs';
import type { RootDatabase, Transaction } from 'lmdb';
import { TesseraError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import { copyBytes } from '../util/alloc.ts';
import { asUint8Array } from '../util/bytes.ts';
import { checkDurationMs } from '../util/duration.ts';
import { KV_TABLES, type KvBackend, type KvEntry, type KvSnapshotView, type KvTable } from './kv-backend.ts';
import { buf, openBinaryDb, openEnv, syncEnv, type BinaryDb } from './lmdb-env.ts';

/**
 * How long a grouped apply transaction stays open for further batches by default (see
 * commitAsync and LmdbKvBackendOptions.commitWindowMs), unless commitSoon() ends it first
 * (whenever something waits for a batch in it: a read, a watch, a snapshot install). Each
 * commit of a state machine costs a flush: in bench:kv's 3-node cluster on one disk, one per
 * node per round of the log was a third of all flushes. 10 ms held one round's batch. Longer groups also write
 * fewer pages per batch (a hot page is written once per group) and so flush for less time while
 * the logs wait on the same disk: w64 (ops/s) 6.6k/8.1k at 50 ms, 8.9k/7.6k at 100, 9.7k/8.6k at
 * 200, 9.5k/8.6k at 300, 8.6k/7.8k at 500 (runs alternated). A crash loses at most one group, which
 * the log replays; a snapshot or compaction first makes it durable (makeDurable).
 */
export const STATE_COMMIT_WINDOW_MS = 200;

export interface LmdbKvBackendOptions {
  readonly asyncCommits?: boolean;
  readonly lazyMetaSync?: boolean;
  readonly commitWindowMs?: number;
}

/** Batches sharing one lmdb-js write transaction. */
interface CommitGroup {
  /** Set while the transaction's callback holds it open: batches then run at once. */
  open: boolean;
  /** Ended before lmdb-js started it: it commits as soon as its waiting batches ran. */
  ended: boolean;
  /** Batches that arrived before lmdb-js started the transaction. */
  readonly waiting: (() => void)[];
  /** Completions of the batches that ran in it, called once it committed (or failed). */
  readonly ran: ((error: Error | undefined) => void)[];
  /** Set when a batch threw: the group aborts, and every batch in it fails with this. */
  failure: Error | undefined;
  /** What its batches asked to run just before it commits (KvBackend.batchAsync). */
  readonly beforeCommit: Set<() => void>;
  /** Ends the window: the transaction commits (or, given a failure, aborts) once lmdb-js resumes. */
  end: (failure?: Error) => void;
}

export class LmdbKvBackend implements KvBackend {
  private inBatch = false;
  private group: CommitGroup | null = null;
  private openViews = 0;
  private closing: Promise<void> | null = null;
  private whenUnused: (() => void) | null = null;

  private constructor(
    readonly dir: string,
    private readonly env: RootDatabase,
    private readonly dbs: Record<KvTable, BinaryDb>,
    private readonly commitWindowMs: number,
  ) {}

  /**
   * `asyncCommits` adds batchAsync; without it every batch commits synchronously (as the
   * simulator needs: each step on its own clock). `commitWindowMs` (default
   * STATE_COMMIT_WINDOW_MS) is how long a group of asynchronous batches stays open.
   */
  static open(dir: string, options: LmdbKvBackendOptions = {}): LmdbKvBackend {
    const window = checkDurationMs('commitWindowMs', options.commitWindowMs ?? STATE_COMMIT_WINDOW_MS);
    const env = openEnv(dir, { lazyMetaSync: options.lazyMetaSync ?? false });
    const dbs = Object.fromEntries(KV_TABLES.map((t) => [t, openBinaryDb(env, t)])) as Record<KvTable, BinaryDb>;
    const backend = new LmdbKvBackend(dir, env, dbs, window);
    if (options.asyncCommits) backend.batchAsync = (fn, done, beforeCommit) => backend.commitAsync(fn, done, beforeCommit);
    return backend;
  }

  batchAsync?: <T>(fn: () => T, done: (error: Error | undefined, value: T | undefined) => void, beforeCommit?: () => void) => void;

  get(table: KvTable, key: Uint8Array): Uint8Array | undefined {
    return get(this.dbs[table], key, undefined, LARGE_VALUE_TABLES.has(table));
  }

  range(table: KvTable, start: Uint8Array, end: Uint8Array | null, limit: number): KvEntry[] {
    return range(this.dbs[table], start, end, limit, undefined);
  }

  batch<T>(fn: () => T): T {
    assert(!this.inBatch, 'lmdb kv: batches do not nest');
    assert(this.closing === null, 'lmdb kv: backend is closed');
    this.inBatch = true;
    try {
      return this.env.transactionSync(fn);
    } finally {
      this.inBatch = false;
    }
  }

  /**
   * Runs fn inside a grouped write transaction: the first batch opens one (lmdb-js starts it on
   * its writer thread and calls back here), which then stays open for commitWindowMs, and every
   * batch arriving meanwhile runs at once in it. The group commits (with its flush) on lmdb-js's
   * writer thread and `done` runs for each batch then. Reads meanwhile see what the group wrote
   * (lmdb-js reads through the open write transaction), as they would once it commits; a crash
   * loses the group, which the state machine's owner replays from its log.
   *
   * A throwing fn fails its whole group: the group's transaction (an lmdb-js child transaction,
   * so that it can abort) is rolled back, every batch in it gets the error, and later batches
   * go to a new group on the state from before it. A batch of its own (a child transaction per
   * batch) would let the others commit, but LMDB copies into a child every page it touches that
   * its parent already holds: in bench:apply that was a quarter of applying a put. An apply that
   * throws stops its node anyway (RaftNode.fail), which replays the log when it starts again.
   */
  private commitAsync<T>(fn: () => T, done: (error: Error | undefined, value: T | undefined) => void, beforeCommit?: () => void): void {
    assert(this.closing === null, 'lmdb kv: backend is closed');
    const group = this.group ?? this.openGroup();
    const run = (): void => this.runInGroup(group, fn, done, beforeCommit);
    if (group.open) run();
    else group.waiting.push(run);
  }

  private openGroup(): CommitGroup {
    const group: CommitGroup = {
      open: false,
      ended: false,
      failure: undefined,
      waiting: [],
      ran: [],
      beforeCommit: new Set(),
      end: (failure) => {
        group.failure ??= failure;
        group.ended = true;
        if (this.group === group) this.group = null;
      },
    };
    this.group = group;
    const settle = (error: Error | undefined): void => {
      for (const f of group.ran.splice(0)) f(error);
    };
    // transactionAsync(cb, true): a child of lmdb-js's own transaction, aborted if cb fails
    // (a top-level callback that fails is only reported: what it wrote would still commit).
    const env = this.env as unknown as { transactionAsync(cb: () => unknown, asChild: boolean): Promise<unknown> };
    env
      .transactionAsync(() => {
        for (const run of group.waiting.splice(0)) run();
        if (group.ended) {
          this.runBeforeCommit(group);
          if (group.failure) throw group.failure;
          return;
        }
        group.open = true;
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => group.end(), this.commitWindowMs);
          group.end = (failure) => {
            group.failure ??= failure;
            clearTimeout(timer);
            group.open = false;
            group.ended = true;
            if (this.group === group) this.group = null;
            this.runBeforeCommit(group);
            if (group.failure) reject(group.failure);
            else resolve();
          };
        });
      }, true)
      .then(
        () => settle(group.failure),
        (e: unknown) => settle(e instanceof Error ? e : new Error(String(e))),
      );
    return group;
  }

  /** The group's beforeCommit functions, in its transaction; a throw fails the group. */
  private runBeforeCommit(group: CommitGroup): void {
    if (group.failure || group.beforeCommit.size === 0) return;
    assert(!this.inBatch, 'lmdb kv: a group ended inside one of its batches');
    this.inBatch = true;
    try {
      for (const f of group.beforeCommit) f();
    } catch (e) {
      group.failure = e instanceof Error ? e : new Error(String(e));
    } finally {
      this.inBatch = false;
      group.beforeCommit.clear();
    }
  }

  private runInGroup<T>(group: CommitGroup, fn: () => T, done: (error: Error | undefined, value: T | undefined) => void, beforeCommit?: () => void): void {
    assert(!this.inBatch, 'lmdb kv: batches do not nest');
    if (group.failure) {
      group.ran.push((error) => done(error ?? group.failure, undefined));
      return;
    }
    let value: T;
    this.inBatch = true;
    try {
      value = fn();
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      group.ran.push(() => done(error, undefined));
      group.end(error);
      return;
    } finally {
      this.inBatch = false;
    }
    if (beforeCommit) group.beforeCommit.add(beforeCommit);
    group.ran.push((error) => (error ? done(error, undefined) : done(undefined, value)));
  }

  /** Ends the open commit group, if any: what ran in it commits without waiting for more. */
  commitSoon(): void {
    this.group?.end();
  }

  /** Makes every committed batch durable (needed only with lazyMetaSync; harmless otherwise). */
  sync(): void {
    assert(this.closing === null, 'lmdb kv: backend is closed');
    syncEnv(this.env);
  }

  put(table: KvTable, key: Uint8Array, value: Uint8Array): void {
    assert(this.inBatch, 'lmdb kv: writes only inside a batch');
    this.dbs[table].putSync(key, value);
  }

  delete(table: KvTable, key: Uint8Array): boolean {
    assert(this.inBatch, 'lmdb kv: writes only inside a batch');
    return this.dbs[table].removeSync(key);
  }

  openView(): KvSnapshotView {
    assert(this.closing === null, 'lmdb kv: backend is closed');
    const txn = this.env.useReadTransaction();
    this.openViews++;
    let open = true;
    return {
      get: (table, key) => this.outsideWriteTxn(() => get(this.dbs[table], key, txn)),
      range: (table, start, end, limit) => this.outsideWriteTxn(() => range(this.dbs[table], start, end, limit, txn)),
      close: () => {
        if (!open) return;
        open = false;
        txn.done();
        if (--this.openViews === 0) this.whenUnused?.();
      },
    };
  }

  /**
   * Runs a view's read in the view's own read transaction. lmdb-js reads through the
   * environment's open write transaction whenever there is one (read.js, 3.5.6: `env.writeTxn ||
   * options.transaction`), and a commit group keeps one open across event turns: a snapshot
   * image read then would mix states. The native environment's `writeTxn` is hidden for the
   * read, which is synchronous, so nothing else can see it missing.
   */
  private outsideWriteTxn<T>(read: () => T): T {
    const native = (this.env as unknown as { env: { writeTxn?: unknown } }).env;
    const open = native.writeTxn;
    if (!open) return read();
    native.writeTxn = null;
    try {
      return read();
    } finally {
      native.writeTxn = open;
    }
  }

  /** Closes the environment once no view uses it (a snapshot may still be streaming from it). */
  close(): Promise<void> {
    // An open group commits now rather than at the end of its window.
    this.commitSoon();
    this.closing ??= new Promise<void>((resolve) => {
      this.whenUnused = () => resolve(this.env.close());
      if (this.openViews === 0) this.whenUnused();
    });
    return this.closing;
  }

  /** The environment is closed (lmdb-js closes synchronously when nothing was pending). */
  get isClosed(): boolean {
    return (this.env as { status?: string }).status === 'closed';
  }

  /** Closes, then deletes the environment's directory. */
  async destroy(): Promise<void> {
    await this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Tables of megabyte values: lmdb-js's getBinary reads those straight into a buffer of their
 * own, where the shared read buffer would cost a second copy (and a zero-filled allocation).
 */
const LARGE_VALUE_TABLES: ReadonlySet<KvTable> = new Set(['chunks']);

function get(db: BinaryDb, key: Uint8Array, transaction: Transaction | undefined, large = false): Uint8Array | undefined {
  if (transaction || large) {
    const v = transaction ? db.get(buf(key), { transaction }) : db.getBinary(buf(key));
    return v === undefined ? undefined : asUint8Array(v);
  }
  // getBinaryFast fills lmdb-js's shared read buffer (valid until its next read): copied out at
  // once into pooled memory, which is cheaper than getBinary's own fresh copy (see alloc.ts).
  const v = db.getBinaryFast(buf(key));
  return v === undefined ? undefined : copyBytes(v, 0, v.length);
}

function rangeOptions(start: Uint8Array, end: Uint8Array | null, limit: number, transaction: Transaction | undefined) {
  return {
    ...(start.length > 0 ? { start: buf(start) } : {}),
    ...(end !== null ? { end: buf(end) } : {}),
    ...(transaction ? { transaction } : {}),
    limit,
  };
}

function range(db: BinaryDb, start: Uint8Array, end: Uint8Array | null, limit: number, transaction: Transaction | undefined): KvEntry[] {
  const out: KvEntry[] = [];
  for (const { key, value } of db.getRange(rangeOptions(start, end, limit, transaction))) {
    out.push({ key: asUint8Array(key as Uint8Array), value: asUint8Array(value) });
  }
  return out;
}
