/** Byte-string helpers: keys and values are raw bytes, compared and ordered as LMDB does. */
import { allocBytes } from './alloc.ts';

/** Lexicographic unsigned byte order (memcmp, then shorter first), the order LMDB keeps keys in. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One char per byte (latin1). Such strings can key a Map, and because each UTF-16 code unit
 * equals its byte, the default string sort orders them exactly as `compareBytes` orders the bytes.
 */
export function bytesToBinaryString(bytes: Uint8Array): string {
  // Without a Buffer object per call (a third of the cost): these key in-memory maps on hot paths.
  return latin1Slice.call(bytes, 0, bytes.length);
}

// Node's own latin1 decoder behind Buffer#toString('latin1'), which takes any Uint8Array as
// `this`. Not in Node's typings: checked once here, so a Node without it fails at load.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice!;
if (typeof latin1Slice !== 'function' || latin1Slice.call(new Uint8Array([0x61, 0xff]), 0, 2) !== 'a\u00ff') {
  throw new Error('this Node has no Buffer#latin1Slice that accepts a Uint8Array');
}

export function binaryStringToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  // Buffer.from allocates short strings from Node's pool (see alloc.ts); TextEncoder would give
  // each its own backing store. A plain Uint8Array view, so slice() still copies.
  const b = Buffer.from(s, 'utf8');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Whether `s` has no lone surrogate, so that utf8(s) keeps it: UTF-8 cannot encode one, and
 * utf8() would store U+FFFD instead, making two different strings the same bytes.
 */
export function isWellFormed(s: string): boolean {
  // String.prototype.isWellFormed is in Node 20 (V8 11.3) but not in TypeScript's ES2022 lib.
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Throws on invalid UTF-8 rather than substituting U+FFFD, so a decode never silently changes data. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * The smallest key greater than every key that starts with `prefix`, for prefix scans as
 * [prefix, prefixEnd(prefix)). Null when no such key exists (empty prefix or all 0xff bytes):
 * the scan then has no upper bound.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return null;
}

/** The smallest key greater than `key` (key + 0x00): turns an exclusive lower bound into an inclusive one. */
export function keySuccessor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = allocBytes(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A plain Uint8Array over the same memory: Buffers from Node APIs compare equal to our own arrays only as this. */
export function asUint8Array(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
