/**
 * The simulator's LogStore: a MemoryLog served from memory, persisted as framed records on a
 * MemoryDisk. Writes reach the disk at once (as buffered writes) and become durable when the
 * injected `defer` runs the fsync, so the simulator decides fsync latency and crash timing while
 * the store stays free of timers and randomness.
 */
import { TesseraError } from '../errors.ts';
import type { DurableCallback, LogStore, LogStoreState } from '../node/ports.ts';
import type { Entry, HardState, Snapshot } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import type { MemoryDisk } from './memory-disk.ts';
import { MemoryLog } from './memory-log.ts';
import { frameRecord, scanFrames } from './wal-frame.ts';
import { decodeWalRecord, encodeWalRecord, type WalRecord } from './wal-record.ts';

export interface MemoryLogStoreOptions {
  /**
   * Schedules durability work: the store passes a job that fsyncs and acknowledges. The
   * simulator runs it after a simulated fsync latency; tests may run it at once.
   */
  readonly defer: (job: () => void) => void;
}

/** A `defer` that runs the job at once: every write is durable when `save` returns. */
export const immediateDefer = (job: () => void): void => job();

interface PendingWrite {
  readonly seq: number;
  readonly done: DurableCallback;
}

export class MemoryLogStore implements LogStore {
  readonly snapshotData = 'kept' as const;
  private readonly log: MemoryLog;
  private readonly token: number;
  /** Writes not yet acknowledged, oldest first: acknowledgements leave in call order. */
  private readonly pending: PendingWrite[] = [];
  private nextSeq = 1;
  private compactionDue = false;
  private closed = false;

  /** Opens the file and recovers from it. Throws `CORRUPTION` if a record fails its checksum. */
  constructor(
    private readonly disk: MemoryDisk,
    private readonly options: MemoryLogStoreOptions,
  ) {
    this.token = disk.acquire();
    this.log = recover(disk);
  }

  initialState(): LogStoreState {
    this.checkOpen();
    return { hardState: this.log.hardState(), snapshot: this.log.snapshotMeta() };
  }

  firstIndex(): number {
    this.checkOpen();
    return this.log.firstIndex();
  }

  lastIndex(): number {
    this.checkOpen();
    return this.log.lastIndex();
  }

  term(index: number): number {
    this.checkOpen();
    return this.log.term(index);
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.checkOpen();
    return this.log.entries(lo, hi, maxBytes);
  }

  snapshot(): Snapshot | null {
    this.checkOpen();
    return this.log.snapshot();
  }

  save(hardState: HardState | null, entries: readonly Entry[], done: DurableCallback): void {
    this.checkOpen();
    // Check the hard state up front so a rejected save writes nothing at all.
    if (hardState) this.log.checkHardState(hardState);
    // Entries before hard state (as etcd's WAL.Save): a crash between them leaves a commit
    // index that never points past the entries on disk.
    if (entries.length > 0) this.write({ kind: 'entries', entries });
    if (hardState) this.write({ kind: 'hardState', hardState });
    this.enqueue(done);
  }

  saveSnapshot(snapshot: Snapshot, done: DurableCallback): void {
    this.checkOpen();
    this.write({ kind: 'snapshot', snapshot });
    this.compactionDue = true;
    this.enqueue(done);
  }

  /**
   * Stops using the disk: pending acknowledgements are dropped, later calls throw CLOSED.
   * (A crash of the disk has the same effect without a call.) Takes effect before it returns;
   * the promise is for the common signature with the LMDB store, whose close is asynchronous.
   */
  close(): Promise<void> {
    this.closed = true;
    this.pending.length = 0;
    return Promise.resolve();
  }

  private write(rec: WalRecord): void {
    // Encode, then update the image, then write: a record that fails to encode or breaks the
    // image's assertions leaves both the image and the disk untouched.
    const framed = frameRecord(encodeWalRecord(rec));
    this.log.apply(rec);
    this.disk.append(framed);
  }

  private enqueue(done: DurableCallback): void {
    const seq = this.nextSeq++;
    this.pending.push({ seq, done });
    this.options.defer(() => this.flush(seq));
  }

  /**
   * The fsync job of write `seq`. One fsync makes the whole file durable, so it acknowledges
   * every write up to `seq`; if `defer` ran jobs out of order, the earlier writes' own jobs
   * later find nothing left to do.
   */
  private flush(seq: number): void {
    // The process died (disk crashed) or the store was closed: this fsync never happens.
    if (this.closed || !this.disk.isOwner(this.token)) return;
    this.disk.sync();
    if (this.compactionDue) {
      // Safe at any point once synced: the image equals the replay of the whole file.
      this.compactionDue = false;
      this.disk.rewrite(this.log.toRecords().map((r) => frameRecord(encodeWalRecord(r))));
    }
    // Shift before calling: a callback may save again, and with an immediate defer the nested
    // flush must not find (and acknowledge a second time) the write being acknowledged here.
    while (this.pending.length > 0 && this.pending[0]!.seq <= seq) {
      this.pending.shift()!.done();
    }
  }

  private checkOpen(): void {
    if (this.closed || !this.disk.isOwner(this.token)) {
      throw new TesseraError('CLOSED', 'log store is closed (or its disk crashed since it was opened)');
    }
  }
}

/** Replays the file in order; a torn final record (never acknowledged) is cut off the file. */
function recover(disk: MemoryDisk): MemoryLog {
  const records = disk.records();
  const { payloads, tornTail } = scanFrames(records);
  if (tornTail) disk.truncate(payloads.length);
  const log = new MemoryLog();
  payloads.forEach((p, i) => {
    const rec = decodeWalRecord(p, i);
    try {
      log.apply(rec);
    } catch (cause) {
      // Checksums passed and live writes are checked before they reach the disk, so a record
      // that does not replay is our bug (replay or compaction), not the disk's: INVARIANT.
      throw new TesseraError('INVARIANT', `WAL record ${i} (${rec.kind}) does not replay: ${String(cause)}`, { cause });
    }
  });
  assert(!tornTail || disk.recordCount() === payloads.length, 'torn tail not truncated');
  return log;
}
