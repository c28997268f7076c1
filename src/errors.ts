/** Every error Tessera raises on purpose carries a stable machine-readable code. */
export type TesseraErrorCode =
  | 'NOT_LEADER' // the node is not the leader; `leaderHint` may name who is
  | 'NO_LEADER' // no leader is known; retry later
  | 'PROPOSAL_DROPPED' // the proposal was discarded (leader transfer in progress, term changed)
  | 'UNCOMMITTED_LIMIT' // maxUncommittedBytes would be exceeded
  | 'OVERLOADED' // refused for lack of capacity (too many requests in flight) before anything was done; retry after a back-off
  | 'ENTRY_TOO_LARGE'
  | 'KEY_TOO_LONG'
  | 'EMPTY_KEY'
  | 'MESSAGE_TOO_LARGE'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'CORRUPTION' // a checksum did not match: the node refuses to go on
  | 'COMPACTED' // the requested log index was compacted away
  | 'UNAVAILABLE' // the requested log index is not (yet) in the log
  | 'SESSION_STALE' // a command older than the client's latest was replayed
  | 'INVALID_ARGUMENT'
  | 'INVARIANT' // an internal invariant failed: a bug, never user error
  | 'IDENTITY_MISMATCH' // a directory belongs to another cluster or node, or holds a cluster of another shape
  | 'SESSION_EXPIRED' // a write's session expired while it was retried: the write's outcome is unknown
  | 'INVALID_FORMAT' // a file or stream (safetensors, TF.js weights, a manifest) breaks its format: nothing was written
  | 'NOT_FOUND' // a model, version or tensor that does not exist
  | 'CONFLICT' // a concurrent change won (e.g. a model version that moved on); retry with fresh state
  | 'AUTH_FAILED' // a peer or client failed the handshake (wrong secret, cluster id or node id)
  | 'PROTOCOL_ERROR'; // a peer sent bytes that are not a valid frame or message

export class TesseraError extends Error {
  readonly code: TesseraErrorCode;
  readonly leaderHint: number;

  constructor(code: TesseraErrorCode, message: string, options: { leaderHint?: number; cause?: unknown } = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.leaderHint = options.leaderHint ?? 0;
  }
}

export function isTesseraError(e: unknown, code?: TesseraErrorCode): e is TesseraError {
  return e instanceof TesseraError && (code === undefined || e.code === code);
}
