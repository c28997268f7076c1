/**
 * Limits of the key-value state machine. The ones in KvLimits change what apply() does (which
 * sessions expire, which events are kept), so every replica of a group must use the same values:
 * they are part of the replicated semantics, like the command encoding. Tests shrink them to
 * reach the boundaries quickly; production uses the defaults.
 */

/** A session with no command for more than this many applied entries expires. */
export const SESSION_IDLE_ENTRIES = 1_000_000;
/** Most sessions kept; opening one more expires the least recently used. */
export const MAX_SESSIONS = 10_000;
/** Most sessions one client may use: a client with more could expire every other client's sessions. */
export const MAX_CLIENT_SESSIONS = MAX_SESSIONS / 10;
/** Watch events kept (whole revisions are trimmed, oldest first, past this many). */
export const EVENT_HISTORY = 100_000;

/** Longest client id (UTF-8 bytes) a session may carry: it is a key of the session table. */
export const MAX_CLIENT_ID_BYTES = 128;
/** Most compares, and most ops per branch, in one txn (as etcd's --max-txn-ops). */
export const MAX_TXN_OPS = 1024;
/** Records a range read returns when the caller does not say, and the most it may ask for. */
export const DEFAULT_RANGE_LIMIT = 1000;
export const MAX_RANGE_LIMIT = 10_000;

export interface KvLimits {
  readonly sessionIdleEntries: number;
  readonly maxSessions: number;
  readonly eventHistory: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = Object.freeze({
  sessionIdleEntries: SESSION_IDLE_ENTRIES,
  maxSessions: MAX_SESSIONS,
  eventHistory: EVENT_HISTORY,
});
