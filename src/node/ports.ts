/**
 * The narrow interfaces through which a RaftNode touches the world. Production wires real
 * timers, sockets and LMDB; the simulator wires a virtual clock, a simulated network and a
 * simulated disk. The node code is the same in both.
 */
import type { Entry, HardState, Message, Snapshot, SnapshotMeta } from '../raft/types.ts';

/** Time, in milliseconds. Virtual in the simulator. */
export interface Clock {
  now(): number;
  /** Runs `fn` once after `delayMs`. Returns a function that cancels it. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

/** A source of randomness. Seeded and deterministic in the simulator. */
export interface Random {
  /** Uniform integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform integer in [0, maxExclusive). maxExclusive must be in [1, 2^32]. */
  nextInt(maxExclusive: number): number;
  /** Uniform float in [0, 1). */
  nextFloat(): number;
}

/** Unreliable, unordered, fire-and-forget delivery of Raft messages to peers. */
export interface Transport {
  send(message: Message): void;
}

/** Called once a write is durable, or with the error that prevented it. */
export type DurableCallback = (error?: Error) => void;

/** What a LogStore recovered when it was opened. */
export interface LogStoreState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta;
}

/**
 * The durable Raft log. Reads are synchronous (the core reads the stable log through them);
 * writes are asynchronous and report durability through a callback.
 */
export interface LogStore {
  /**
   * 'kept': snapshot() returns the image saved with saveSnapshot (a volatile state machine is
   * rebuilt from it). 'metadataOnly': the state machine is durable on its own and the log keeps
   * only the snapshot's metadata; snapshot().data is empty.
   */
  readonly snapshotData: 'kept' | 'metadataOnly';
  initialState(): LogStoreState;
  /** Index of the first entry still in the log (snapshot.index + 1 when compacted). */
  firstIndex(): number;
  /** Index of the last entry, or snapshot.index when the log is empty. */
  lastIndex(): number;
  /** Term of the entry at `index`; valid for snapshot.index <= index <= lastIndex(). Throws COMPACTED / UNAVAILABLE. */
  term(index: number): number;
  /** Entries in [lo, hi), stopping early after maxBytes (at least one entry is returned). Throws COMPACTED / UNAVAILABLE. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * Persists a Ready's log changes: entries overwrite any existing entries from entries[0].index
   * on (suffix truncation), then hardState is recorded. `done` runs once all of it is durable.
   * Writes are applied in call order.
   */
  save(hardState: HardState | null, entries: readonly Entry[], done: DurableCallback): void;
  /**
   * Records a snapshot (from the local state machine or installed from the leader) and drops
   * every entry it covers. Entries after it are kept when they agree with it (same term at
   * snapshot.index), otherwise the whole log is discarded.
   */
  saveSnapshot(snapshot: Snapshot, done: DurableCallback): void;
  /** The latest snapshot (its data only when snapshotData is 'kept'), or null if none was ever saved. */
  snapshot(): Snapshot | null;
  /**
   * Stops the store. Writes already acknowledged stay durable; `done` callbacks of writes still
   * in flight are never called (the caller is going away, as after a crash).
   */
  close(): Promise<void>;
}

/** The result of applying one entry. Opaque to the runtime; handed back to the proposer. */
export type ApplyResult = unknown;

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

/**
 * The replicated state machine. `apply` must record the applied index atomically with the
 * effects of the batch, so a crash never applies an entry twice or skips one.
 */
export interface StateMachine {
  appliedIndex(): number;
  /** Term of the entry at appliedIndex() (0 before anything was applied). */
  appliedTerm(): number;
  /** Applies committed entries in order (including Empty entries, which only move the applied index). */
  apply(entries: readonly Entry[]): ApplyResult[];
  /**
   * Optional: apply() with the commit off the event loop. `onResults` gets the results as soon as
   * they are computed (the entries are already durable in a quorum's logs, so they may be
   * acknowledged then); `onApplied` runs once the batch is committed, when appliedIndex() and
   * reads include it. Batches complete in call order. A runtime that uses it lets every batch
   * commit before it installs a snapshot (restore, or finish() of a streamed one).
   */
  readonly applyAsync?: (entries: readonly Entry[], onResults: (results: ApplyResult[]) => void, onApplied: (error?: Error) => void) => void;
  /**
   * Optional: makes every committed batch durable, for state machines whose commits may become
   * durable only later (they must never be durable out of order). The runtime calls it before it
   * compacts the log up to appliedIndex(): from then on the log cannot replay what a crash undid.
   */
  makeDurable?(): void;
  /**
   * Optional, with applyAsync: asks that batches waiting to commit commit now rather than with
   * later ones (a state machine may hold its commits open to share one flush among several
   * batches). The runtime calls it when a read waits for appliedIndex() to reach its index, and
   * when a snapshot install waits for them (cluster/node.ts also, while a watch or a read of a
   * revision waits).
   */
  commitSoon?(): void;
  /**
   * Optional: entries this node has just started to write to its log, which it will apply once
   * they commit (or never, if a new leader overwrites them). The state machine may do now the
   * work that depends on the entries alone (decoding commands), so that apply, which a leader's
   * clients wait for, does not. Must not change the state or anything apply() returns.
   */
  prepare?(entries: readonly Entry[]): void;
  /**
   * Optional: throws (a TesseraError, INVALID_ARGUMENT for a malformed command) unless `data` is
   * a command apply() can take. The runtime asks before proposing, because a command that is in
   * the log and fails at apply stops every replica, on every restart. Must be a pure function of
   * the bytes, as apply's own decoding is, and must not change the state.
   */
  admit?(data: Uint8Array): void;
  /** An image of the state at appliedIndex(). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot image taken at meta.index. */
  restore(meta: SnapshotMeta, data: Uint8Array): void;
  /** Streams an image of the applied state in bounded chunks (what is sent to lagging followers). */
  openSnapshot(): SnapshotReader;
  /** Starts installing a streamed image taken at meta.index; supersedes an unfinished one. */
  beginRestore(meta: SnapshotMeta): SnapshotWriter;
  close(): Promise<void>;
}
