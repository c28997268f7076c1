/**
 * The one KvStateMachine implementation: KvLogic over whatever backend a KvStorage currently
 * holds. Memory and LMDB differ only in their storage (memory-kv.ts, lmdb-kv.ts), so their
 * semantics, results, events and snapshot images cannot drift apart.
 */
import { TesseraError } from '../errors.ts';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import { concatBytes } from '../util/bytes.ts';
import type { KvBackend, KvBlobTable, KvRestoreTarget } from './kv-backend.ts';
import type { KvRecord } from './kv-command.ts';
import type { KvEvent } from './kv-events.ts';
import { KvImageReader } from './kv-image-reader.ts';
import { DEFAULT_KV_LIMITS, type KvLimits } from './kv-limits.ts';
import { KvLogic, type KvApplyResult, type KvRangeOptions, type KvRangePage } from './kv-logic.ts';
import { KvRestoreWriter } from './kv-restore-writer.ts';
import type { KvStateMachine, SnapshotReader, SnapshotWriter } from './kv-state-machine.ts';

/** Where a state machine keeps its state. */
export interface KvStorage {
  /** The live backend; a committed restore target replaces it. */
  backend(): KvBackend;
  /** A fresh, empty state; its commit() makes it the live backend. */
  newRestoreTarget(): KvRestoreTarget;
  close(): Promise<void>;
}

/** Chunk size the whole-image methods (snapshot/restore) stream with. */
const WHOLE_IMAGE_CHUNK = 1024 * 1024;

export class KvStateMachineCore implements KvStateMachine {
  private logic: KvLogic | null = null;
  private logicBackend: KvBackend | null = null;
  private restoring: KvRestoreWriter | null = null;
  private closed = false;

  constructor(
    private readonly storage: KvStorage,
    private readonly limits: KvLimits = DEFAULT_KV_LIMITS,
  ) {
    this.current();
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
    this.restoring = new KvRestoreWriter(meta, this.storage.newRestoreTarget());
    return this.restoring;
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
