/**
 * The key-value state machine as the runtime and the client layer see it. The memory twin and
 * the LMDB implementation both satisfy it (both are KvStateMachineCore over a different
 * backend), and both run test/store/state-machine-conformance.ts.
 */
import type { StateMachine } from '../node/ports.ts';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import type { KvRecord } from './kv-command.ts';
import type { KvEvent } from './kv-events.ts';
import type { KvApplyResult, KvRangeOptions, KvRangePage } from './kv-logic.ts';

export type { KvApplyResult, KvKeyRecord, KvRangeOptions, KvRangePage } from './kv-logic.ts';
export type { KvEvent } from './kv-events.ts';

/** A snapshot image being read from a consistent view of the state (a read transaction for LMDB). */
export interface SnapshotReader {
  /** The applied index and term of the view: the image is the state at this point. */
  readonly index: number;
  readonly term: number;
  /** The next bytes of the image, at most maxBytes (>= 1); null once all were returned. */
  read(maxBytes: number): Uint8Array | null;
  /** Releases the view. Always call it, also after reading to the end. */
  close(): void;
}

/** A snapshot image being installed. Nothing is visible until finish() returns. */
export interface SnapshotWriter {
  /** The next bytes of the image, cut anywhere. Throws CORRUPTION (and aborts) on a bad image. */
  write(chunk: Uint8Array): void;
  /**
   * Checks the image is complete, intact and taken at the meta given to beginRestore, then
   * swaps it in as the whole state, atomically. On any error the old state stays.
   */
  finish(): void;
  /** Discards what was written; the old state stays. Idempotent; a no-op after finish(). */
  abort(): void;
}

export interface KvStateMachine extends StateMachine {
  apply(entries: readonly Entry[]): KvApplyResult[];
  /** Term of the entry at appliedIndex() (0 before anything was applied). */
  appliedTerm(): number;
  /** A local (not linearizable on its own) read of the applied state. */
  get(key: Uint8Array): KvRecord | null;
  /** Records with start <= key < end (end null: no bound) in key order, a page at a time. */
  range(start: Uint8Array, end: Uint8Array | null, options?: KvRangeOptions): KvRangePage;
  /**
   * Watch events from (fromRevision, fromSub) on, in revision then op order, at most `limit`.
   * Throws COMPACTED if events at or after fromRevision were already trimmed.
   */
  events(fromRevision: number, limit: number, fromSub?: number): KvEvent[];
  openSnapshot(): SnapshotReader;
  /** Starts installing an image taken at meta.index / meta.term; supersedes an unfinished one. */
  beginRestore(meta: SnapshotMeta): SnapshotWriter;
  close(): Promise<void>;
}
