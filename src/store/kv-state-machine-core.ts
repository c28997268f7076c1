/**
 * The one KvStateMachine implementation: KvLogic over whatever backend a KvStorage currently
 * holds. Memory and LMDB differ only in their storage (memory-kv.ts, lmdb-kv.ts), so their
 * semantics, results, events and snapshot images cannot drift apart.
 */
import { TesseraError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import { concatBytes } from '../util/bytes.ts';
import type { KvBackend, KvBlobTable, KvRestoreTarget } from './kv-backend.ts';
import type { KvRecord } from './kv-command.ts';
import type { KvEvent } from './kv-events.ts';
import { KvImageReader } from './kv-image-reader.ts';
import { DEFAULT_KV_LIMITS, type KvLimits } from './kv-limits.ts';
import { admitCommand, KvLogic, prepareCommands, type KvApplyResult, type KvRangeOptions, type KvRangePage } from './kv-logic.ts';
import { KvRestoreWriter } from './kv-restore-writer.ts';
import type { KvStateMachine, SnapshotReader, SnapshotWriter } from './kv-state-machine.ts';

/** Where a state machine keeps its state. */
export interface KvStorage {
  /** The live backend; a committed restore target replaces it. */
  backend(): KvBackend;
  /** A fresh, empty state; its commit() makes it the live backend. */
  newRestoreTarget(): KvRestoreTarget;
  /** Backends commit apply batches off the event loop (KvBackend.batchAsync). */
  readonly asyncCommits?: boolean;
  /** Present when commits may become durable only later: makes every committed batch durable now. */
  makeDurable?(): void;
  close(): Promise<void>;
}

/** Chunk size the whole-image methods (snapshot/restore) stream with. */
const WHOLE_IMAGE_CHUNK = 1024 * 1024;

export class KvStateMachineCore implements KvStateMachine {
  private logic: KvLogic | null = null;
  private logicBackend: KvBackend | null = null;
  private restoring: KvRestoreWriter | null = null;
  private closed = false;
  private pendingApplies = 0;
  private idleWaiters: (() => void)[] = [];

  /** Present only when the storage commits asynchronously (see StateMachine.applyAsync). */
  readonly applyAsync?: (entries: readonly Entry[], onResults: (results: KvApplyResult[]) => void, onApplied: (error?: Error) => void) => void;

  constructor(
    private readonly storage: KvStorage,
    private readonly limits: KvLimits = DEFAULT_KV_LIMITS,
  ) {
    this.current();
    if (storage.asyncCommits) this.applyAsync = (entries, onResults, onApplied) => this.applyOffLoop(entries, onResults, onApplied);
  }

  /** Makes every committed batch durable: the runtime calls it before compacting the log (StateMachine.makeDurable). */
  makeDurable(): void {
    assert(!this.closed, 'state machine is closed');
    this.storage.makeDurable?.();
  }

  /** Runs `fn` once every applyAsync batch so far has committed (at once if none is pending). */
  whenApplied(fn: () => void): void {
    if (this.pendingApplies === 0) return fn();
    this.idleWaiters.push(fn);
    this.commitSoon();
  }

  /** StateMachine.commitSoon: the backend's grouped commit, if any, closes now. */
  commitSoon(): void {
    if (this.pendingApplies > 0) this.storage.backend().commitSoon?.();
  }

  private applyOffLoop(entries: readonly Entry[], onResults: (results: KvApplyResult[]) => void, onApplied: (error?: Error) => void): void {
    const logic = this.current();
    this.pendingApplies++;
    logic.applyAsync(entries, onResults, (error) => {
      this.pendingApplies--;
      onApplied(error);
      if (this.pendingApplies === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  appliedIndex(): number {
    return this.current().appliedIndex();
  }

  appliedTerm(): number {
    return this.current().appliedTerm();
  }

  apply(entries: readonly Entry[]): KvApplyResult[] {
    return this.current().apply(entries);
  }

  /** StateMachine.admit: the command decodes (and so passes its validation) as its apply will decode it. */
  admit(data: Uint8Array): void {
    admitCommand(data);
  }

  /** StateMachine.prepare: decodes the entries' commands ahead of their apply (needs no state). */
  prepare(entries: readonly Entry[]): void {
    prepareCommands(entries);
  }

  get(key: Uint8Array): KvRecord | null {
    return this.current().get(key);
  }

  range(start: Uint8Array, end: Uint8Array | null, options?: KvRangeOptions): KvRangePage {
    return this.current().range(start, end, options);
  }

  events(fromRevision: number, limit: number, fromSub = 0): KvEvent[] {
    return this.current().events(fromRevision, limit, fromSub);
  }

  readTable(table: KvBlobTable, key: Uint8Array): Uint8Array | null {
    return this.current().readTable(table, key);
  }

  openSnapshot(): SnapshotReader {
    this.checkOpen();
    return new KvImageReader(this.storage.backend().openView());
  }

  beginRestore(meta: SnapshotMeta): SnapshotWriter {
    this.checkOpen();
    this.restoring?.abort();
    const writer = new KvRestoreWriter(meta, this.storage.newRestoreTarget());
    this.restoring = writer;
    // Staging may overlap applies; the swap must not (their batches belong to the old state).
    return {
      write: (chunk) => writer.write(chunk),
      finish: () => {
        assert(this.pendingApplies === 0, 'a restore must wait for pending applies (whenApplied)');
        writer.finish();
      },
      abort: () => writer.abort(),
    };
  }

  /** The whole image at once, streamed from openSnapshot(): for the runtime until it streams. */
  snapshot(): Uint8Array {
    const reader = this.openSnapshot();
    try {
      const chunks: Uint8Array[] = [];
      for (let c = reader.read(WHOLE_IMAGE_CHUNK); c !== null; c = reader.read(WHOLE_IMAGE_CHUNK)) chunks.push(c);
      return concatBytes(chunks);
    } finally {
      reader.close();
    }
  }

  restore(meta: SnapshotMeta, data: Uint8Array): void {
    const writer = this.beginRestore(meta);
    try {
      for (let at = 0; at < data.length; at += WHOLE_IMAGE_CHUNK) writer.write(data.subarray(at, at + WHOLE_IMAGE_CHUNK));
      writer.finish();
    } finally {
      writer.abort();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.restoring?.abort();
    this.closed = true;
    await this.storage.close();
  }

  private current(): KvLogic {
    this.checkOpen();
    const backend = this.storage.backend();
    if (this.logic === null || backend !== this.logicBackend) {
      this.logic = new KvLogic(backend, this.limits);
      this.logicBackend = backend;
    }
    return this.logic;
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('CLOSED', 'state machine is closed');
  }
}
