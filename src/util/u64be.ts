/**
 * Big-endian fixed-width integers for keys: byte order then equals numeric order, which is what
 * makes log indexes and revisions scan in sequence in LMDB (and in the memory twins).
 */
import { assert } from './assert.ts';

const TWO_32 = 2 ** 32;

/** 8 bytes, big-endian; n must be a non-negative safe integer. */
export function u64be(n: number): Uint8Array {
  assert(Number.isSafeInteger(n) && n >= 0, () => `u64be out of range: ${n}`);
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(n / TWO_32));
  view.setUint32(4, n % TWO_32);
  return out;
}

/** Reads what u64be wrote at `offset`; null if the value is not a safe integer (never written by us). */
export function readU64be(b: Uint8Array, offset = 0): number | null {
  if (b.length < offset + 8) return null;
  const view = new DataView(b.buffer, b.byteOffset + offset, 8);
  const n = view.getUint32(0) * TWO_32 + view.getUint32(4);
  return Number.isSafeInteger(n) ? n : null;
}

/** 4 bytes, big-endian. */
export function u32be(n: number): Uint8Array {
  assert(Number.isInteger(n) && n >= 0 && n < TWO_32, () => `u32be out of range: ${n}`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

export function readU32be(b: Uint8Array, offset = 0): number {
  assert(b.length >= offset + 4, () => `readU32be: ${b.length} bytes, need ${offset + 4}`);
  return new DataView(b.buffer, b.byteOffset + offset, 4).getUint32(0);
}
