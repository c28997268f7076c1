/** Byte-string helpers: keys and values are raw bytes, compared and ordered as LMDB does. */

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
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function binaryStringToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Throws on invalid UTF-8 rather than substituting U+FFFD, so a decode never silently changes data. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
