/**
 * Byte arrays for the hot paths (records, keys, commands: mostly tens to hundreds of bytes).
 *
 * `new Uint8Array(n)` above V8's on-heap limit (64 bytes) gets its own zero-filled backing store,
 * about 2.5 µs for 300 bytes here, and lmdb-js then asks the native side for that store's
 * address once per array it writes. Below Buffer.poolSize / 2, Node hands out slices of a shared
 * 8 KiB pool instead (about 0.1 µs), whose address lmdb-js caches. The arrays returned are plain
 * Uint8Arrays over a slice of such a pool: `.buffer` may hold other arrays' bytes, so nothing
 * may assume it owns the whole ArrayBuffer (always pair `.buffer` with byteOffset/byteLength).
 * A small array keeps its whole 8 KiB pool alive, so pooled arrays are for what dies soon:
 * keys and records on their way into LMDB, decoded fields on their way to an encoder. Whatever
 * may live long (a cached log entry, a value handed to the user) goes through ownedBytes().
 */

const POOLED_BELOW = Buffer.poolSize >>> 1;

/** `n` bytes, NOT zeroed: the caller writes every one of them. */
export function allocBytes(n: number): Uint8Array {
  if (n >= POOLED_BELOW) return new Uint8Array(n);
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** A copy of src[start, end) that never aliases src. */
export function copyBytes(src: Uint8Array, start = 0, end = src.length): Uint8Array {
  const out = allocBytes(end - start);
  out.set(src.subarray(start, end));
  return out;
}

/**
 * `b` itself if it is the whole of its ArrayBuffer, else an exact copy with its own: for bytes
 * that will be kept (a cache, the user), so that a small pooled slice, or a view into a
 * received 64 KiB socket chunk, does not keep the whole of its buffer alive.
 */
export function ownedBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : unpooledCopy(b);
}

/** A copy in an ArrayBuffer of its own, exactly sized (never from the pool). */
export function unpooledCopy(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.byteLength);
  out.set(b);
  return out;
}
