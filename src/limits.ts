/** Every size limit in one place (DESIGN.md "Limits"). Exceeding one raises a typed TesseraError. */

/** LMDB's maximum key size with default page settings. */
export const MAX_KEY_BYTES = 1978;
/** Largest single log entry (one command). */
export const MAX_ENTRY_BYTES = 4 * 1024 * 1024;
/** Largest message on the wire; maxSizePerMsg must leave room for framing. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Longest delay a timer takes: Node's setTimeout fires at once (with a warning) for a longer one. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Largest streamed snapshot chunk: one chunk travels in one message, as large as maxSizePerMsg may be. */
export const MAX_SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024;
/** Most unacknowledged snapshot chunks per transfer: the sender keeps each for retransmission. */
export const MAX_SNAPSHOT_WINDOW = 64;
/** Cluster ids are names, not documents; the bound keeps handshake frames small. */
export const MAX_CLUSTER_ID_BYTES = 256;
/** safetensors header bound, as in the reference implementation. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** Raft defaults (all overridable per node within these bounds). */
export const DEFAULT_MAX_SIZE_PER_MSG = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_MSGS = 256;
export const DEFAULT_MAX_INFLIGHT_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_UNCOMMITTED_BYTES = 64 * 1024 * 1024;
