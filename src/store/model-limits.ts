/**
 * Limits of the model (tensor) commands of the state machine. They bound what one command may
 * describe, so that a manifest or a parameter set always fits in one log entry.
 */

/** Model names are keys' middle parts: short, and from a charset that never needs escaping. */
export const MAX_MODEL_NAME_BYTES = 200;
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@:-]*$/;
/** A tensor name is stored in manifests (not in keys), so it may hold any UTF-8 but '\0'. */
export const MAX_TENSOR_NAME_BYTES = 1024;
export const MAX_TENSORS_PER_VERSION = 100_000;
export const MAX_TENSOR_RANK = 16;
export const MAX_METADATA_ENTRIES = 1024;
export const MAX_METADATA_VALUE_BYTES = 64 * 1024;
/** Chunks are cut at most this large (a chunk put is one log entry, <= 4 MiB with its framing). */
export const MAX_CHUNK_BYTES = 2 * 1024 * 1024;
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** A chunk's address: the SHA-256 of its bytes. */
export const CHUNK_HASH_BYTES = 32;
/** Worker count of a parameter set (each worker's clock and pending push is part of its state). */
export const MAX_PARAM_WORKERS = 1024;
/** float32 values of one parameter set: it is one record, rewritten by every push. */
export const MAX_PARAM_VALUES = 256 * 1024;
