/**
 * The production LogStore: one LMDB environment per node directory, holding the entries (keyed
 * by 8-byte big-endian index, so they scan in order), the hard state, the snapshot METADATA and
 * the store's identity, every value sealed with a CRC-32C (lmdb-log-codec.ts) that is checked
 * whenever the value is read: a mismatch is CORRUPTION naming the index, never the bytes.
 *
 * Each save() or saveSnapshot() is one LMDB write transaction (suffix truncation, append and
 * hard state together, or snapshot metadata and compaction together), committed with
 * transactionSync, which returns only once the commit is durable (lmdb-env.ts). So a write is
 * visible to the synchronous reads as soon as the call returns, as in the memory twin, and
 * durable at the same moment; `done` then runs through the injected `defer`, in call order.
 * With `asyncCommits`, save() queues its transaction instead and lmdb-js commits it on its
 * writer thread; reads see it, and `done` runs, once it is durable. Its writes are one lmdb-js
 * `batch` (atomic), started at once rather than at the end of the event turn.
 *
 * Snapshots: only the metadata is kept. The LMDB state machine holds its own durable state (at
 * or past every snapshot index the runtime records), so snapshot() returns the metadata with
 * empty data, and whoever needs an image streams it from the state machine. The memory twin
 * keeps the data, as the simulator's volatile state machine needs it.
 */
import path from 'node:path';
import type { RootDatabase } from 'lmdb';
import { TesseraError } from '../errors.ts';
import type { DurableCallback, LogStore, LogStoreState } from '../node/ports.ts';
import { EMPTY_HARD_STATE, NONE, entrySize, type Entry, type HardState, type Snapshot, type SnapshotMeta } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import { asUint8Array, utf8 } from '../util/bytes.ts';
import { checkClusterId } from '../util/cluster-id.ts';
import { readU64be } from '../util/u64be.ts';
import { batchStartedNow, buf, claimDirectory, closeAndRelease, makeDataDirectory, openBinaryDb, openEnv, type BinaryDb, type DirectoryClaim } from './lmdb-env.ts';
import {
  ABSENT_ENTRY_KEY,
  decodeEntry,
  decodeHardState,
  decodeIdentity,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeIdentity,
  encodeSnapshotMeta,
  entryKey,
  type StoreIdentity,
} from './lmdb-log-codec.ts';
import { EMPTY_SNAPSHOT_META } from './memory-log.ts';
import { RecentEntries } from './recent-entries.ts';

/**
 * Entries a snapshot compacted away are deleted a slice at a time, inside later saves, instead
 * of all at once in the snapshot's own transaction: that one blocked the event loop for 12-35 ms
 * per 10,000 entries in bench:kv (once per node per snapshot), stalling every node in the process.
 * Each save deletes at least this many, and at least twice as many as it appends, so deletion
 * keeps up with any append rate. Until then they are unreachable (below firstIndex()).
 */
export const LOG_COMPACTION_SLICE = 256;

const KEY_HARD_STATE = utf8('hardState');
const KEY_SNAPSHOT = utf8('snapshot');
const KEY_IDENTITY = utf8('identity');
const EMPTY = new Uint8Array(0);

export interface LmdbLogStoreOptions extends StoreIdentity {
  /**
   * Runs acknowledgements (`done`). Writes are already durable when a job is scheduled, so this
   * only decides when callers hear about it: the simulator passes its event queue; by default
   * a microtask.
   */
  readonly defer?: (job: () => void) => void;
  /**
   * Commit save()s on lmdb-js's writer thread (durable when acknowledged, as always) instead
   * of blocking the event loop in each fsync; a node's reads see a write once it committed.
   * For real nodes; the simulator keeps synchronous commits.
   */
  readonly asyncCommits?: boolean;
}

/** One transaction's writes, in order: entries removed, then rows put. Keys and values encoded. */
interface LogWrites {
  readonly removes: readonly Buffer[];
  readonly puts: readonly (readonly [BinaryDb, Buffer, Buffer])[];
}

interface PlannedWrite {
  readonly writes: LogWrites;
  /** Updates the cached view once the writes are durable. */
  readonly committed: () => void;
}

interface PendingAck {
  readonly seq: number;
  readonly done: DurableCallback;
  readonly error: Error | undefined;
}

export class LmdbLogStore implements LogStore {
  readonly snapshotData = 'metadataOnly' as const;
  private readonly pending: PendingAck[] = [];
  /**
   * Terms of entries we wrote or read and verified: the core asks for terms far more often
   * than for entries, and an entry may be megabytes to checksum. Entry reads always verify.
   */
  private readonly terms = new Map<number, number>();
  private readonly recent = new RecentEntries();
  private nextSeq = 1;
  private closed = false;
  /** A commit that failed: the store stops (the log on disk is as before that write). */
  private failure: Error | null = null;
  /** Asynchronous writes run one after another: each one's checks see the log its predecessor left. */
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private asyncCommits = false;

  private constructor(
    private readonly claim: DirectoryClaim,
    private readonly env: RootDatabase,
    private readonly entriesDb: BinaryDb,
    private readonly metaDb: BinaryDb,
    private readonly defer: (job: () => void) => void,
    private hard: HardState,
    private snap: SnapshotMeta,
    private hasSnapshot: boolean,
    private last: number,
    /** Entries at or below the snapshot still stored, to delete (see LOG_COMPACTION_SLICE); empty when from > to. */
    private stale: StaleRange,
  ) {}

  /**
   * Opens (creating if needed) the log in `dir`. Throws IDENTITY_MISMATCH if the directory
   * belongs to another cluster or node, CORRUPTION if the stored log is damaged.
   */
  static open(dir: string, options: LmdbLogStoreOptions): LmdbLogStore {
    const { clusterId, nodeId } = options;
    checkClusterId(clusterId);
    if (!Number.isSafeInteger(nodeId) || nodeId <= NONE) throw new TesseraError('INVALID_ARGUMENT', `bad node id ${nodeId}`);
    makeDataDirectory(dir);
    const claim = claimDirectory(dir);
    let env: RootDatabase | null = null;
    try {
      env = openEnv(dir, { writesStartAtOnce: options.asyncCommits === true });
      const entriesDb = openBinaryDb(env, 'entries');
      const metaDb = openBinaryDb(env, 'meta');
      checkIdentity(env, metaDb, dir, { clusterId, nodeId });
      const hsRaw = metaDb.getBinary(buf(KEY_HARD_STATE));
      const snapRaw = metaDb.getBinary(buf(KEY_SNAPSHOT));
      const hard = hsRaw ? decodeHardState(KEY_HARD_STATE, asUint8Array(hsRaw)) : EMPTY_HARD_STATE;
      const snap = snapRaw ? decodeSnapshotMeta(KEY_SNAPSHOT, asUint8Array(snapRaw)) : EMPTY_SNAPSHOT_META;
      const { last, stale } = recoverLog(entriesDb, snap.index);
      const store = new LmdbLogStore(claim, env, entriesDb, metaDb, options.defer ?? queueMicrotask, hard, snap, snapRaw !== undefined, last, stale);
      store.asyncCommits = options.asyncCommits ?? false;
      return store;
    } catch (e) {
      if (env) void closeAndRelease(env, claim);
      else claim.release();
      throw e;
    }
  }

  /** The directory's name as given to open(), resolved. */
  get directory(): string {
    return this.claim.key;
  }

  initialState(): LogStoreState {
    this.checkOpen();
    return { hardState: this.hard, snapshot: this.snap };
  }

  firstIndex(): number {
    this.checkOpen();
    return this.snap.index + 1;
  }

  lastIndex(): number {
    this.checkOpen();
    return this.last;
  }

  term(index: number): number {
    this.checkOpen();
    assert(Number.isSafeInteger(index) && index >= 0, () => `term(${index})`);
    if (index < this.snap.index) throw new TesseraError('COMPACTED', `term(${index}): compacted up to ${this.snap.index}`);
    if (index > this.last) throw new TesseraError('UNAVAILABLE', `term(${index}): last index is ${this.last}`);
    if (index === this.snap.index) return this.snap.term;
    const cached = this.terms.get(index);
    if (cached !== undefined) return cached;
    const term = this.readEntry(index).term;
    this.terms.set(index, term);
    return term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.checkOpen();
    assert(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo <= hi, () => `entries(${lo}, ${hi})`);
    if (lo <= this.snap.index) throw new TesseraError('COMPACTED', `entries(${lo}, ${hi}): compacted up to ${this.snap.index}`);
    if (hi > this.last + 1) throw new TesseraError('UNAVAILABLE', `entries(${lo}, ${hi}): last index is ${this.last}`);
    const out: Entry[] = [];
    if (lo === hi) return out;
    const cached = this.recent.get(lo, hi, maxBytes);
    if (cached !== null) return cached;
    let bytes = 0;
    let want = lo;
    for (const { key, value } of this.entriesDb.getRange({ start: buf(entryKey(lo)), end: buf(entryKey(hi)) })) {
      const index = readU64be(asUint8Array(key as Uint8Array));
      if (index !== want) throw new TesseraError('CORRUPTION', `log entry ${want} is missing (found ${index} instead)`);
      const e = decodeEntry(index, asUint8Array(value));
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) return out;
      out.push(e);
      want++;
    }
    if (want < hi) throw new TesseraError('CORRUPTION', `log entry ${want} is missing`);
    return out;
  }

  snapshot(): Snapshot | null {
    this.checkOpen();
    return this.hasSnapshot ? { meta: this.snap, data: EMPTY } : null;
  }

  save(hardState: HardState | null, entries: readonly Entry[], done: DurableCallback): void {
    this.checkOpen();
    if (!this.asyncCommits) {
      const write = this.planSave(hardState, entries);
      if (write === null) return this.enqueue(done);
      return this.commitSync(done, write);
    }
    // Checked now when nothing is queued ahead (a refused save throws at the caller, as in sync
    // mode), else when its turn comes (then `done` gets the refusal).
    const planned = this.queued === 0 ? this.planSave(hardState, entries) : undefined;
    this.runQueued(done, () => {
      const write = planned === undefined ? this.planSave(hardState, entries) : planned;
      return write === null ? undefined : this.commitAsync(write);
    });
  }

  /**
   * Checks a save against the log as it is (so a refused save writes nothing) and encodes it:
   * the transaction body and what to update once it committed; null if there is nothing to write.
   */
  private planSave(hardState: HardState | null, entries: readonly Entry[]): PlannedWrite | null {
    if (hardState) this.checkHardState(hardState);
    const first = entries[0];
    if (first !== undefined) this.checkAppend(first, entries);
    if (first === undefined && !hardState) return null;
    // Checksums and copies here, not inside the write transaction.
    const rows = entries.map(entryRow);
    const hs = hardState ? buf(encodeHardState(KEY_HARD_STATE, hardState)) : null;
    const oldLast = this.last;
    const { from: staleFrom, to: staleTo } = this.stale;
    const staleEnd = Math.min(staleTo, staleFrom + Math.max(LOG_COMPACTION_SLICE, 2 * entries.length) - 1);
    const removes = entryKeys(staleFrom, staleEnd);
    const puts: [BinaryDb, Buffer, Buffer][] = [];
    if (first !== undefined) {
      removes.push(...entryKeys(first.index, oldLast));
      for (const row of rows) puts.push([this.entriesDb, row.key, row.value]);
    }
    if (hs) puts.push([this.metaDb, buf(KEY_HARD_STATE), hs]);
    return {
      writes: { removes, puts },
      committed: () => {
        if (staleEnd >= staleFrom) this.stale = { from: staleEnd + 1, to: this.stale.to };
        if (first !== undefined) {
          for (let i = first.index; i <= oldLast; i++) this.terms.delete(i);
          for (const e of entries) this.terms.set(e.index, e.term);
          this.last = entries[entries.length - 1]!.index;
          this.recent.append(entries);
        }
        if (hardState) this.hard = hardState;
      },
    };
  }

  /**
   * Records the snapshot's metadata (its data is the state machine's business) and drops the
   * entries it covers; entries after it survive only if the log agrees with it at its index.
   */
  saveSnapshot(snapshot: Snapshot, done: DurableCallback): void {
    this.checkOpen();
    if (!this.asyncCommits) {
      if (this.queued === 0) return this.commitSync(done, this.planSnapshot(snapshot));
      return this.runQueued(done, () => {
        const { writes, committed } = this.planSnapshot(snapshot);
        try {
          this.env.transactionSync(() => this.writeSync(writes));
        } catch (cause) {
          this.fail(cause);
          throw this.failure;
        }
        committed();
      });
    }
    // Like save(): refused at the caller when nothing is queued ahead, committed on the writer thread.
    const planned = this.queued === 0 ? this.planSnapshot(snapshot) : undefined;
    this.runQueued(done, () => this.commitAsync(planned ?? this.planSnapshot(snapshot)));
  }

  private planSnapshot(snapshot: Snapshot): PlannedWrite {
    const { index, term } = snapshot.meta;
    const cur = this.snap;
    assert(
      index > cur.index || (index === cur.index && term === cur.term),
      () => `snapshot ${index}/${term} is older than the current one ${cur.index}/${cur.term}`,
    );
    const agrees = index <= this.last && this.term(index) === term;
    const dropTo = agrees ? index : this.last;
    const meta = snapshot.meta;
    // Entries after the snapshot that disagree with it go now, with the metadata; those it
    // covers only become unreachable and are deleted by later saves (LOG_COMPACTION_SLICE).
    const coveredTo = Math.min(index, this.last);
    const stale = coveredTo <= cur.index ? this.stale : { from: this.stale.from <= this.stale.to ? this.stale.from : cur.index + 1, to: coveredTo };
    return {
      writes: { removes: entryKeys(index + 1, dropTo), puts: [[this.metaDb, buf(KEY_SNAPSHOT), buf(encodeSnapshotMeta(KEY_SNAPSHOT, meta))]] },
      committed: () => {
        this.stale = stale;
        for (let i = cur.index + 1; i <= dropTo; i++) this.terms.delete(i);
        if (agrees) this.recent.dropThrough(index);
        else this.recent.clear();
        this.snap = meta;
        this.hasSnapshot = true;
        if (!agrees) this.last = index;
      },
    };
  }

  /** Stops the store: later calls throw CLOSED, pending acknowledgements are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    await closeAndRelease(this.env, this.claim);
  }

  private readEntry(index: number): Entry {
    // lmdb-js's shared read buffer, valid until its next read: decodeEntry checks it and copies
    // the data out before anything else reads.
    const raw = this.entriesDb.getBinaryFast(buf(entryKey(index)));
    if (raw === undefined) throw new TesseraError('CORRUPTION', `log entry ${index} is missing`);
    return decodeEntry(index, asUint8Array(raw).subarray(0, raw.length));
  }

  private checkHardState(hs: HardState): void {
    const prev = this.hard;
    assert(hs.term >= prev.term, () => `hard state term went back from ${prev.term} to ${hs.term}`);
    // Changing a vote within a term is how Raft elects two leaders; refuse to persist it.
    assert(
      hs.term > prev.term || prev.vote === NONE || hs.vote === prev.vote,
      () => `vote changed from ${prev.vote} to ${hs.vote} within term ${hs.term}`,
    );
  }

  private checkAppend(first: Entry, entries: readonly Entry[]): void {
    assert(first.index > this.snap.index, () => `append at ${first.index} overwrites the snapshot at ${this.snap.index}`);
    assert(first.index <= this.last + 1, () => `append at ${first.index} leaves a gap after ${this.last}`);
    let prevTerm = this.term(first.index - 1);
    // Checked before asserting: a message thunk would be a closure allocated per entry.
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== first.index + i) assert(false, `append: entries not contiguous at ${e.index}`);
      if (e.term < prevTerm) assert(false, `append: term ${e.term} at ${e.index} is below ${prevTerm} before it`);
      prevTerm = e.term;
    }
  }

  /** One durable transaction, committed before this returns; the cached view changes only if it committed. */
  private commitSync(done: DurableCallback, { writes, committed }: PlannedWrite): void {
    try {
      this.env.transactionSync(() => this.writeSync(writes));
    } catch (cause) {
      this.fail(cause);
      return this.enqueue(done, this.failure!);
    }
    committed();
    this.enqueue(done);
  }

  /**
   * The same, committed (durably) on lmdb-js's writer thread; settles once it has. The writes
   * go as lmdb-js write instructions in one `batch` (executed atomically, in one transaction),
   * which its writer thread carries out on its own: a transaction callback would first have to
   * wait for this thread to be free, and under load that wait was longer than the flushes.
   * The batch starts at once (batchStartedNow), not after the event loop's other work.
   */
  private commitAsync({ writes, committed }: PlannedWrite): Promise<void> {
    const enqueue = (): void => {
      for (const key of writes.removes) void this.entriesDb.remove(key);
      for (const [db, key, value] of writes.puts) void db.put(key, value);
    };
    return batchStartedNow(this.entriesDb, ABSENT_ENTRY_KEY, enqueue).then(
      () => {
        if (!this.closed) committed();
      },
      (cause: unknown) => {
        this.fail(cause);
        throw this.failure;
      },
    );
  }

  /** The writes, inside a synchronous write transaction. */
  private writeSync(writes: LogWrites): void {
    for (const key of writes.removes) this.entriesDb.removeSync(key);
    for (const [db, key, value] of writes.puts) db.putSync(key, value);
  }

  /**
   * The transaction aborted, so the disk is as before; but a store that cannot write must not go
   * on acknowledging later writes as if this one had happened.
   */
  private fail(cause: unknown): void {
    this.failure ??= new TesseraError('UNAVAILABLE', `log store write failed: ${String(cause)}`, { cause });
  }

  /**
   * Runs `op` once every write queued before it has committed, then acknowledges `done` with
   * its error if any: a refusal (checked then), or the failure that stopped the store.
   */
  private runQueued(done: DurableCallback, op: () => Promise<void> | void): void {
    this.queued++;
    this.tail = this.tail.then(async () => {
      let error: Error | undefined;
      try {
        if (this.failure) throw this.failure;
        if (!this.closed) await op();
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
      } finally {
        this.queued--;
      }
      this.enqueue(done, error);
    });
  }

  private enqueue(done: DurableCallback, error?: Error): void {
    const seq = this.nextSeq++;
    this.pending.push({ seq, done, error });
    this.defer(() => this.acknowledge(seq));
  }

  /**
   * Acknowledges every write up to `seq` (all are durable by now), oldest first, so that
   * acknowledgements leave in call order even if `defer` runs jobs out of order.
   */
  private acknowledge(seq: number): void {
    if (this.closed) return;
    while (this.pending.length > 0 && this.pending[0]!.seq <= seq) {
      const p = this.pending.shift()!;
      p.done(p.error);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('CLOSED', 'log store is closed');
    if (this.failure) throw this.failure;
  }
}

function checkIdentity(env: RootDatabase, metaDb: BinaryDb, dir: string, want: StoreIdentity): void {
  const raw = metaDb.getBinary(buf(KEY_IDENTITY));
  if (raw === undefined) {
    env.transactionSync(() => metaDb.putSync(buf(KEY_IDENTITY), buf(encodeIdentity(KEY_IDENTITY, want))));
    return;
  }
  const have = decodeIdentity(KEY_IDENTITY, asUint8Array(raw));
  if (have.clusterId !== want.clusterId || have.nodeId !== want.nodeId) {
    throw new TesseraError(
      'IDENTITY_MISMATCH',
      `${path.resolve(dir)} holds the log of node ${have.nodeId} of cluster ${JSON.stringify(have.clusterId)}, ` +
        `not of node ${want.nodeId} of cluster ${JSON.stringify(want.clusterId)}`,
    );
  }
}

/** Keys of entries lo..hi (none if hi < lo). */
function entryKeys(lo: number, hi: number): Buffer[] {
  const keys: Buffer[] = [];
  for (let i = lo; i <= hi; i++) keys.push(buf(entryKey(i)));
  return keys;
}

interface StaleRange {
  readonly from: number;
  readonly to: number;
}

/**
 * The last index, after checking the stored entries after the snapshot are exactly
 * snapIndex+1 .. last, and the compacted entries still stored (at most up to snapIndex).
 */
function recoverLog(entriesDb: BinaryDb, snapIndex: number): { last: number; stale: StaleRange } {
  const keyIndex = (k: unknown): number => {
    const n = readU64be(asUint8Array(k as Uint8Array));
    if (n === null || (k as Uint8Array).length !== 8) throw new TesseraError('CORRUPTION', 'log: malformed entry key');
    return n;
  };
  const none = { from: snapIndex + 1, to: snapIndex };
  const [first] = entriesDb.getKeys({ limit: 1 });
  if (first === undefined) return { last: snapIndex, stale: none };
  const lowest = keyIndex(first);
  // Reverse from the snapshot's key: the highest stored index at or below it.
  const [highestStale] = lowest <= snapIndex ? entriesDb.getKeys({ start: buf(entryKey(snapIndex)), reverse: true, limit: 1 }) : [];
  const stale = highestStale === undefined ? none : { from: lowest, to: keyIndex(highestStale) };
  const liveStart = buf(entryKey(snapIndex + 1));
  const [firstLive] = entriesDb.getKeys({ start: liveStart, limit: 1 });
  if (firstLive === undefined) return { last: snapIndex, stale };
  const [lastKey] = entriesDb.getKeys({ limit: 1, reverse: true });
  const lo = keyIndex(firstLive);
  const hi = keyIndex(lastKey);
  const count = entriesDb.getKeysCount({ start: liveStart });
  if (lo !== snapIndex + 1 || hi - lo + 1 !== count) {
    throw new TesseraError('CORRUPTION', `log: entries ${lo}..${hi} (${count} stored) do not follow the snapshot at ${snapIndex} without gaps`);
  }
  return { last: hi, stale };
}

/**
 * Stored rows (key and record) by entry. Replicas in one process (the in-process cluster) save
 * the very same Entry objects (transports copy a message's entries array, not its entries), so
 * each is encoded and checksummed once rather than once per replica. Safe because nothing changes
 * an entry once made and its row is a pure function of it; lmdb-js only reads the bytes (and
 * copies the key). Weak: keeps nothing alive past its entry.
 */
const entryRows = new WeakMap<Entry, { readonly key: Buffer; readonly value: Buffer }>();

function entryRow(e: Entry): { readonly key: Buffer; readonly value: Buffer } {
  let row = entryRows.get(e);
  if (row === undefined) {
    row = { key: buf(entryKey(e.index)), value: buf(encodeEntry(e)) };
    entryRows.set(e, row);
  }
  return row;
}
