/**
 * Bounds for TensorFlow.js weights interop. A manifest and its shards come from outside, so every
 * size that drives an allocation, a loop or a file count is capped before it is trusted.
 */

/**
 * Largest manifest file read (a bare weights manifest or a whole `model.json`). A layers-model
 * `model.json` embeds the topology, which for big models runs to a few MiB; 32 MiB leaves ample room
 * while keeping a hostile file from being slurped into memory.
 */
export const MAX_TFJS_MANIFEST_BYTES = 32 * 1024 * 1024;

/**
 * Largest tensor the importer materializes, counted in output (dequantized) bytes, and the largest
 * tensor the exporter accepts. A tensor is the unit held in memory at once; 2 GiB stays below the
 * largest Uint8Array Node 20 allocates on every 64-bit platform.
 */
export const MAX_TFJS_TENSOR_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * Largest weight group, counted in stored (shard) bytes. Groups are streamed shard by shard, so this
 * is a sanity bound (1 TiB) that also keeps every offset an exact integer, not a memory bound.
 */
export const MAX_TFJS_GROUP_BYTES = 2 ** 40;

/** Most shard files one group may list: bounds the stat/open calls a manifest can trigger. */
export const MAX_TFJS_SHARDS_PER_GROUP = 10_000;

/** Default shard size of the exporter, the TF.js converter's default. */
export const DEFAULT_TFJS_SHARD_BYTES = 4 * 1024 * 1024;
