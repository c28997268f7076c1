/**
 * A run's fingerprint: FNV-1a 64 over a typed encoding of everything the simulation records.
 * Two runs with the same seed must print the same hash; the first differing record is where
 * determinism broke. The 64-bit state is kept as two 32-bit halves (no BigInt: this runs for
 * every delivered message).
 *
 * Encoding: each part is a tag byte then its payload (strings length-prefixed), and each `add`
 * ends with a record terminator, so add('ab') ≠ add('a', 'b') ≠ add('a'); add('b'), and 1 ≠ '1'.
 */

export type TracePart = string | number | boolean;

const TAG_STRING = 1;
const TAG_INT32 = 2;
const TAG_FLOAT64 = 3;
const TAG_TRUE = 4;
const TAG_FALSE = 5;
const TAG_END = 0xfe;

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
/** FNV 64-bit prime is 2^40 + 0x1b3: the 2^40 part only touches the high half (lo << 8). */
const PRIME_LO = 0x1b3;

/** Explicit little-endian, so the hash of a float is the same on every platform. */
const scratch = new DataView(new ArrayBuffer(8));

export class TraceHash {
  private hi = OFFSET_HI;
  private lo = OFFSET_LO;
  private records = 0;
  private readonly ring: string[] = [];
  private ringNext = 0;
  private readonly capacity: number;

  /** `recent`: how many of the last trace lines to keep for debugging (0 = none, the fast default). */
  constructor(options: { recent?: number } = {}) {
    this.capacity = Math.max(0, Math.floor(options.recent ?? 0));
  }

  /** Number of records added. */
  get count(): number {
    return this.records;
  }

  add(...parts: TracePart[]): void {
    this.addAll(parts);
  }

  /** Like `add`, without spreading (for records built in an array). */
  addAll(parts: readonly TracePart[]): void {
    for (const part of parts) {
      if (typeof part === 'string') {
        this.byte(TAG_STRING);
        this.word(part.length);
        for (let i = 0; i < part.length; i++) {
          const c = part.charCodeAt(i);
          this.byte(c & 0xff);
          this.byte(c >>> 8);
        }
      } else if (typeof part === 'number') {
        if ((part | 0) === part) {
          this.byte(TAG_INT32);
          this.word(part);
        } else {
          this.byte(TAG_FLOAT64);
          // NaN payloads may differ between runs of the same computation; hash one canonical NaN.
          scratch.setFloat64(0, Number.isNaN(part) ? Number.NaN : part, true);
          this.word(scratch.getUint32(0, true));
          this.word(scratch.getUint32(4, true));
        }
      } else {
        this.byte(part ? TAG_TRUE : TAG_FALSE);
      }
    }
    this.byte(TAG_END);
    this.records++;
    if (this.capacity > 0) {
      this.ring[this.ringNext] = parts.join(' ');
      this.ringNext = (this.ringNext + 1) % this.capacity;
    }
  }

  /** The hash as 16 lowercase hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }

  /** The last `recent` lines, oldest first. */
  recent(): string[] {
    if (this.ring.length < this.capacity) return this.ring.slice();
    return this.ring.slice(this.ringNext).concat(this.ring.slice(0, this.ringNext));
  }

  /** Little-endian, four bytes. */
  private word(w: number): void {
    this.byte(w & 0xff);
    this.byte((w >>> 8) & 0xff);
    this.byte((w >>> 16) & 0xff);
    this.byte(w >>> 24);
  }

  private byte(b: number): void {
    const lo = (this.lo ^ b) >>> 0;
    const product = lo * PRIME_LO; // < 2^41: exact in a double
    this.lo = product >>> 0;
    this.hi = (Math.imul(this.hi, PRIME_LO) + Math.floor(product / 4294967296) + (lo << 8)) >>> 0;
  }
}

/** Plain FNV-1a 64 of raw bytes, as hex; the reference the typed encoding above builds on. */
export function fnv1a64(bytes: Uint8Array): string {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  for (const b of bytes) {
    lo = (lo ^ b) >>> 0;
    const product = lo * PRIME_LO;
    const newLo = product >>> 0;
    hi = (Math.imul(hi, PRIME_LO) + Math.floor(product / 4294967296) + (lo << 8)) >>> 0;
    lo = newLo;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
