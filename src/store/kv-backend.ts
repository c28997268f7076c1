/**
 * The narrow storage interface under the key-value semantics (kv-logic.ts). The logic is written
 * once against it; the memory twin and LMDB implement it, so they cannot drift. Everything is
 * synchronous bytes-in, bytes-out: the backends never interpret what they store, which is also
 * why both produce byte-identical snapshot images.
 */

/** Ordered tables, each a map from byte keys to byte values. The order here is the image order. */
export const KV_TABLES = ['meta', 'data', 'sessions', 'lru', 'events', 'chunks', 'chunkRefs', 'params'] as const;
export type KvTable = (typeof KV_TABLES)[number];
/** Tables whose records clients read whole, by key: chunk bytes, chunk references, parameter sets. */
export type KvBlobTable = 'chunks' | 'chunkRefs' | 'params';

export interface KvEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Reads of one consistent state. */
export interface KvReadView {
  get(table: KvTable, key: Uint8Array): Uint8Array | undefined;
  /** Entries with start <= key < end (end null: no upper bound), ascending, at most `limit`. */
  range(table: KvTable, start: Uint8Array, end: Uint8Array | null, limit: number): KvEntry[];
}

/** A read view that pins a state until closed (a read transaction for LMDB). */
export interface KvSnapshotView extends KvReadView {
  close(): void;
}

export interface KvBackend extends KvReadView {
  /**
   * Runs `fn` atomically: all of its writes take effect together, or (if it throws) none do.
   * Reads inside `fn` see its own writes. Writes are only allowed inside a batch; batches do
   * not nest.
   */
  batch<T>(fn: () => T): T;
  /** Copies key and value before it returns: the caller may reuse both (ByteWriter.finishInto). */
  put(table: KvTable, key: Uint8Array, value: Uint8Array): void;
  /** True if the key was present. */
  delete(table: KvTable, key: Uint8Array): boolean;
  /** A consistent view of the current state, unaffected by later batches. */
  openView(): KvSnapshotView;
  /**
   * Backends that can commit off the event loop: runs `fn` as a batch later (in call order,
   * each batch seeing the ones before it), and calls `done` once it is committed, with fn's
   * value or the error that aborted it (then none of fn's writes happened). `beforeCommit`, if
   * given, runs inside the transaction just before the commit that holds the batch, once per
   * commit however many of its batches passed the same function: writes that can wait for it.
   */
  batchAsync?<T>(fn: () => T, done: (error: Error | undefined, value: T | undefined) => void, beforeCommit?: () => void): void;
  /** With batchAsync: commits the batches run so far without waiting for more to join them. */
  commitSoon?(): void;
}

/**
 * A fresh, empty state being filled by a restore. Records arrive in image order; `commit`
 * swaps the filled state in as the backend's whole state, atomically, and `discard` drops it.
 */
export interface KvRestoreTarget {
  write(entries: readonly { readonly table: KvTable; readonly key: Uint8Array; readonly value: Uint8Array }[]): void;
  commit(): void;
  discard(): void;
}
