/**
 * How Tessera opens LMDB (lmdb-js), in one place, and the file-system steps around it.
 *
 * Durability facts this relies on (lmdb-js 3.5.6; see the LMDB stores for how they are used):
 * - `transactionSync(fn)` runs fn in one write transaction and commits before returning; fn
 *   throwing aborts it (README "db.transactionSync"). Its default flags are, per index.d.ts,
 *   "abortable, synchronous commits that are flushed to disk before returning": the native
 *   commit (mdb_txn_commit without MDB_NOSYNC) fdatasyncs the data pages and then writes the
 *   meta page through an O_DSYNC descriptor (checked with strace).
 * - `db.flushed` only tracks lmdb-js's asynchronous write batches; it does not flush commits
 *   made with TransactionFlags.NO_SYNC_FLUSH (checked with strace), so we never rely on it.
 * - lmdb-js shares one native environment per path within a process, so a second open of the
 *   same directory would silently alias the first; claimDirectory() refuses that instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { TesseraError } from '../errors.ts';

export type BinaryDb = Database<Uint8Array, Uint8Array>;

export interface EnvOptions {
  /**
   * MDB_NOMETASYNC: a commit fdatasyncs its data pages but writes the meta page without the
   * O_DSYNC flush, which the next commit's fdatasync (or syncEnv) then covers. LMDB keeps its
   * integrity ("maintains database integrity, but a system crash may undo the last committed
   * transaction": lmdb.h); it halves the flushes of a commit. Only for state that can be
   * rebuilt past its last commit (the state machine, from the log), never for the log.
   */
  readonly lazyMetaSync?: boolean;
  /**
   * Asynchronous writes are not gathered per event turn (lmdb-js's eventTurnBatching off, start
   * threshold 1), so batchStartedNow can start one at once. Writes that must commit together
   * then have to be grouped explicitly, with `batch` (lmdb-js README, eventTurnBatching).
   */
  readonly writesStartAtOnce?: boolean;
}

/**
 * `db.batch(writes)` on a `writesStartAtOnce` environment, with its transaction started on
 * lmdb-js's writer thread now rather than once the event loop turns. lmdb-js (write.js, 3.5.6)
 * starts a write that opens a transaction from setImmediate, and at once only when a further
 * write follows while it waits (outstandingWriteCount > txnStartThreshold). On a busy loop that
 * wait was most of a save: in bench:kv's 3-node cluster every log flush began only after the
 * followers' applies had run (seen with strace), and the leader's save took 3.9 ms for 1.4 ms
 * of disk work. The further write deletes `absentKey`, which `db` must never hold: LMDB finds
 * nothing and writes nothing. It resolves with the batch's outcome.
 */
export function batchStartedNow(db: BinaryDb, absentKey: Uint8Array, writes: () => void): Promise<boolean> {
  const batch = db.batch(writes);
  // Its outcome is the batch's: it joins the same transaction, and a delete that finds nothing
  // succeeds. A failure of the environment is reported through the batch's promise.
  db.remove(absentKey).catch(() => {});
  return batch;
}

export function openEnv(dir: string, options: EnvOptions = {}): RootDatabase {
  return open({
    path: dir,
    maxDbs: 16,
    // Plain LMDB commits: durable when transactionSync returns, with LMDB's own two-meta-page
    // crash safety, instead of lmdb-js's deferred-flush mode for its async writes.
    overlappingSync: false,
    ...(options.lazyMetaSync === true && { noMetaSync: true }),
    ...(options.writesStartAtOnce === true && { eventTurnBatching: false, txnStartThreshold: 1 }),
  });
}

/**
 * mdb_env_sync(force): everything committed so far is on disk when this returns (the event
 * loop waits one flush). lmdb-js's public sync() only queues it with a callback; its native
 * environment (`env`, lmdb-js 3.5.6, pinned) syncs at once when called without one.
 */
export function syncEnv(env: RootDatabase): void {
  const native = (env as unknown as { env?: { sync?: () => void } }).env;
  if (typeof native?.sync !== 'function') throw new TesseraError('INVARIANT', 'lmdb-js exposes no synchronous environment sync');
  native.sync();
}

/** A named table with raw byte keys (LMDB order = memcmp, as compareBytes) and raw values. */
export function openBinaryDb(env: RootDatabase, name: string): BinaryDb {
  return env.openDB<Buffer, Uint8Array>(name, { encoding: 'binary', keyEncoding: 'binary' });
}

/** A Buffer over the same memory (lmdb-js wants Buffers for binary keys and values). */
export function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

const claimed = new Set<string>();

/**
 * This process's hold on a directory (lmdb-js shares one native environment per path, so a
 * second open in one process must be refused). Released exactly once, so a late release of a
 * closed store can never drop the claim of the store that reopened the directory since.
 */
export class DirectoryClaim {
  private released = false;

  constructor(readonly key: string) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    claimed.delete(this.key);
  }
}

/**
 * Creates `dir` and its parents unless it exists. INVALID_ARGUMENT, naming the directory, if it
 * cannot be one (a file in the way, no permission), rather than the bare system error.
 */
export function makeDataDirectory(dir: string): void {
  if (typeof dir !== 'string' || dir.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'a data directory must be a non-empty path');
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TesseraError('INVALID_ARGUMENT', `${dir} cannot be a data directory: ${(e as Error).message}`, { cause: e });
  }
}

/** Marks a directory as in use by this process; throws INVALID_ARGUMENT if it already is. */
export function claimDirectory(dir: string): DirectoryClaim {
  const key = path.resolve(dir);
  if (claimed.has(key)) throw new TesseraError('INVALID_ARGUMENT', `${key} is already open in this process`);
  claimed.add(key);
  return new DirectoryClaim(key);
}

/**
 * Closes an environment and releases its directory: at once if lmdb-js closed it synchronously
 * (nothing was pending), else when the close completes. Either way the claim goes exactly once.
 */
export async function closeAndRelease(env: { close(): Promise<void>; status?: string }, claim: DirectoryClaim): Promise<void> {
  const closing = env.close();
  if (env.status === 'closed') claim.release();
  try {
    await closing;
  } finally {
    claim.release();
  }
}

/** fsync of a directory, so that a rename or a new entry in it survives a crash. */
export function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces `file` with `data` atomically and durably: write a temp file, fsync, rename, fsync the directory. */
export function writeFileAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirectory(path.dirname(file));
}
