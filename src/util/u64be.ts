/**
 * Big-endian fixed-width integers for keys: byte order then equals numeric order, which is what
 * makes log indexes and revisions scan in sequence in LMDB (and in the memory twins).
 */
import { allocBytes } from './alloc.ts';
import { assert } from './assert.ts';

const TWO_32 = 2 ** 32;

/** 8 bytes, big-endian; n must be a non-negative safe integer. */
export function u64be(n: number): Uint8Array {
  return u64beU32be(n, null);
}

/** u64be(n) followed by u32be(m) (m null: nothing), in one allocation: a composite key. */
export function u64beU32be(n: number, m: number | null): Uint8Array {
  assert(Number.isSafeInteger(n) && n >= 0, () => `u64be out of range: ${n}`);
  const out = allocBytes(m === null ? 8 : 12);
  putU32be(out, 0, Math.floor(n / TWO_32));
  putU32be(out, 4, n % TWO_32);
  if (m !== null) {
    assert(Number.isInteger(m) && m >= 0 && m < TWO_32, () => `u32be out of range: ${m}`);
    putU32be(out, 8, m);
  }
  return out;
}

/** Reads what u64be wrote at `offset`; null if the value is not a safe integer (never written by us). */
export function readU64be(b: Uint8Array, offset = 0): number | null {
  if (b.length < offset + 8) return null;
  const n = getU32be(b, offset) * TWO_32 + getU32be(b, offset + 4);
  return Number.isSafeInteger(n) ? n : null;
}

/** 4 bytes, big-endian. */
export function u32be(n: number): Uint8Array {
  assert(Number.isInteger(n) && n >= 0 && n < TWO_32, () => `u32be out of range: ${n}`);
  const out = allocBytes(4);
  putU32be(out, 0, n);
  return out;
}

export function readU32be(b: Uint8Array, offset = 0): number {
  assert(b.length >= offset + 4, () => `readU32be: ${b.length} bytes, need ${offset + 4}`);
  return getU32be(b, offset);
}

// Byte by byte rather than through a DataView: a view needs `.buffer`, which V8 must first
// materialize for a small on-heap array, and is an allocation of its own.
function putU32be(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24;
  b[at + 1] = (n >>> 16) & 0xff;
  b[at + 2] = (n >>> 8) & 0xff;
  b[at + 3] = n & 0xff;
}

function getU32be(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}
