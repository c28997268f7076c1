/** The client's public option and result types. */
import type { NodeId } from '../raft/types.ts';
import type { KvCompareOp } from '../store/kv-command.ts';
import type { Key, KvEntry, Value } from './values.ts';

/**
 * - linearizable: ReadIndex (a heartbeat round confirms the leader, then the node waits until it
 *   has applied the read index): sees every write acknowledged before the read began.
 * - lease: the same guarantee answered from the leader's lease without the heartbeat round,
 *   assuming bounded clock drift (the cluster must enable leaseReads).
 * - local: whatever the chosen node has applied, with no barrier: may be stale, even older
 *   than this client's own writes.
 */
export type Consistency = 'linearizable' | 'lease' | 'local';

export interface OpOptions {
  /** Give up with TIMEOUT after this long (ms); the client's timeoutMs if omitted. */
  readonly timeoutMs?: number;
}

export interface ReadOptions extends OpOptions {
  /** The client's default consistency (linearizable unless configured) if omitted. */
  readonly consistency?: Consistency;
  /** The node to read from first (it fails over if the node is down); INVALID_ARGUMENT if the client has no such node. */
  readonly node?: NodeId;
}

export interface RangeOptions extends ReadOptions {
  /** undefined: the first argument is a prefix; null: no upper bound; a key: exclusive upper bound. */
  readonly end?: Key | null;
  /** Most entries to return in all. */
  readonly limit?: number;
  /** Entries read per request (1..MAX_RANGE_LIMIT, default DEFAULT_RANGE_LIMIT). */
  readonly pageSize?: number;
}

export interface WatchOptions {
  /**
   * First revision to deliver. If omitted: the revision after the latest committed when the
   * watch starts (a linearizable read point taken on the first next()).
   */
  readonly fromRevision?: number;
  /** Only this exact key, instead of every key starting with the watched prefix. */
  readonly exact?: boolean;
  /** Events read per request. */
  readonly pageSize?: number;
}

export interface PutOptions extends OpOptions {
  /**
   * Return the entry the put replaced (as etcd's prevKv). Off by default: every replica keeps a
   * session's last result for retries, and a prev nobody reads would be kept and copied with
   * every overwrite.
   */
  readonly prevKv?: boolean;
}

export interface PutResult {
  readonly revision: number;
  /** With prevKv only: the entry before the put; null if the key was absent. */
  readonly prev?: KvEntry | null;
}

export interface DeleteResult {
  readonly revision: number;
  readonly deleted: boolean;
  readonly prev: KvEntry | null;
}

export interface DeleteRangeResult {
  readonly revision: number;
  readonly deleted: number;
}

/**
 * What cas compares with. A value (bytes, string, or a value MessagePack-encoded as put would
 * store it); null: the key must be absent; or one of the key's numbers (0 = absent). An object
 * with exactly one of the keys version / modRevision / createRevision (a number) is always read
 * as that number: to compare with a stored MessagePack object of that shape, pass encodeValue(obj).
 */
export type CasExpected = Value | null | { readonly version: number } | { readonly modRevision: number } | { readonly createRevision: number };

export type CasResult =
  | { readonly succeeded: true; readonly revision: number; readonly prev: KvEntry | null }
  /** Nothing was written; `current` is the entry the comparison saw. */
  | { readonly succeeded: false; readonly current: KvEntry | null };

export type TxnCompare =
  | { readonly key: Key; readonly target: 'value'; readonly op: KvCompareOp; readonly value: Value | null }
  | { readonly key: Key; readonly target: 'version' | 'createRevision' | 'modRevision'; readonly op: KvCompareOp; readonly value: number };

export type TxnOp =
  | { readonly op: 'put'; readonly key: Key; readonly value: Value }
  | { readonly op: 'delete'; readonly key: Key }
  /** `end` as in RangeOptions: undefined deletes every key with prefix `start`. */
  | { readonly op: 'deleteRange'; readonly start: Key; readonly end?: Key | null }
  | { readonly op: 'get'; readonly key: Key };

export interface TxnSpec {
  readonly compares: readonly TxnCompare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export type TxnOpResult =
  | { readonly op: 'put'; readonly prev: KvEntry | null }
  | { readonly op: 'delete'; readonly prev: KvEntry | null }
  | { readonly op: 'deleteRange'; readonly deleted: number }
  | { readonly op: 'get'; readonly value: KvEntry | null };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** One per op of the branch that ran, in order. */
  readonly results: readonly TxnOpResult[];
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly key: Uint8Array;
  /** put: the new value; delete: the value removed. */
  readonly value: Uint8Array;
  readonly revision: number;
  /** Position within the revision (a txn can change several keys at one revision). */
  readonly sub: number;
  /** put: the entry the put left; delete: the entry it removed. */
  readonly entry: KvEntry;
}

export interface ClientOptions {
  /** Per-operation timeout (ms). Default 15000. */
  readonly timeoutMs?: number;
  /** One attempt on one node before trying another (ms). Default 2000. */
  readonly attemptTimeoutMs?: number;
  /** Back-off between failed attempts: exponential with jitter, from minMs up to maxMs. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
  /** Writes in flight at once, each under its own session (see SessionPool). Default 4, at most MAX_CLIENT_SESSIONS. */
  readonly sessions?: number;
  /**
   * Prefix of the session ids; random if omitted. A given id may be reused by a later client
   * (its first write then waits for a read barrier, so it never sees the earlier client's
   * answers), but never by two clients at once. Session ids are `<clientId>.<n>`, at most
   * MAX_CLIENT_ID_BYTES (128) UTF-8 bytes.
   */
  readonly clientId?: string;
  /** Default read consistency. Default 'linearizable'. */
  readonly consistency?: Consistency;
  /** A watch that saw nothing for this long re-confirms its node with a read barrier (ms). Default 1000. */
  readonly watchIdleMs?: number;
}
