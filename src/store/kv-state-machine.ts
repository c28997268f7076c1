/**
 * The key-value state machine as the runtime and the client layer see it. The memory twin and
 * the LMDB implementation both satisfy it (both are KvStateMachineCore over a different
 * backend), and both run test/store/state-machine-conformance.ts.
 */
import type { SnapshotReader, SnapshotWriter, StateMachine } from '../node/ports.ts';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import type { KvBlobTable } from './kv-backend.ts';
import type { KvRecord } from './kv-command.ts';
import type { KvEvent } from './kv-events.ts';
import type { KvApplyResult, KvRangeOptions, KvRangePage } from './kv-logic.ts';

export type { KvApplyResult, KvKeyRecord, KvRangeOptions, KvRangePage } from './kv-logic.ts';
export type { KvEvent } from './kv-events.ts';

export type { SnapshotReader, SnapshotWriter } from '../node/ports.ts';

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
  /** A record of the chunk or parameter table (shared bytes: do not modify), null if absent. */
  readTable(table: KvBlobTable, key: Uint8Array): Uint8Array | null;
  openSnapshot(): SnapshotReader;
  /** Starts installing an image taken at meta.index / meta.term; supersedes an unfinished one. */
  beginRestore(meta: SnapshotMeta): SnapshotWriter;
  close(): Promise<void>;
}
