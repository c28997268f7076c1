/**
 * A minimal deterministic binary codec: little-endian u32, LEB128 unsigned varints for
 * integers up to 2^53 - 1, and length-prefixed byte strings. Hand-written rather than a general
 * serializer so that equal values always encode to equal bytes (snapshots are compared
 * byte-for-byte across replicas) and so that decoding never trusts a length it has not checked.
 */
import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import { copyBytes, unpooledCopy } from './alloc.ts';
import { assert } from './assert.ts';
import { fromUtf8, isWellFormed, utf8 } from './bytes.ts';

/**
 * Scratch buffers that writers borrow and return at finish(), so an encode costs one allocation
 * (the exact-size result) instead of a buffer, its growth and a trimmed copy. A stack, because
 * encodes nest (a record inside a session entry); a writer abandoned by a throw just never gives
 * its scratch back.
 */
const SCRATCH_BYTES = 16 * 1024;
const SCRATCH_KEEP_MAX_BYTES = 1024 * 1024;
const SCRATCH_POOL_MAX = 8;
const scratchPool: Uint8Array[] = [];

export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;
  private borrowed: boolean;

  constructor(initialCapacity = 64) {
    if (initialCapacity <= SCRATCH_BYTES) {
      this.buf = scratchPool.pop() ?? new Uint8Array(SCRATCH_BYTES);
      this.borrowed = true;
    } else {
      // Sized up front for a large payload: finishOwned() can hand this buffer out uncopied.
      this.buf = new Uint8Array(initialCapacity);
      this.borrowed = false;
    }
  }

  get length(): number {
    return this.len;
  }

  u8(n: number): this {
    assert(Number.isInteger(n) && n >= 0 && n <= 0xff, () => `u8 out of range: ${n}`);
    this.reserve(1);
    this.buf[this.len++] = n;
    return this;
  }

  u32(n: number): this {
    assert(Number.isInteger(n) && n >= 0 && n <= 0xffffffff, () => `u32 out of range: ${n}`);
    this.reserve(4);
    const b = this.buf;
    const at = this.len;
    b[at] = n & 0xff;
    b[at + 1] = (n >>> 8) & 0xff;
    b[at + 2] = (n >>> 16) & 0xff;
    b[at + 3] = n >>> 24;
    this.len += 4;
    return this;
  }

  uvarint(n: number): this {
    assert(Number.isSafeInteger(n) && n >= 0, () => `uvarint out of range: ${n}`);
    this.reserve(8);
    // Division, not bit shifts: shifts would truncate to 32 bits.
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
    return this;
  }

  /** Length-prefixed bytes. */
  bytes(b: Uint8Array): this {
    this.uvarint(b.length);
    return this.raw(b);
  }

  /**
   * Length-prefixed UTF-8. INVALID_ARGUMENT for a string with a lone surrogate: UTF-8 would hold
   * U+FFFD instead, so what is decoded would differ from what was checked before encoding (two
   * distinct names could become one).
   */
  string(s: string): this {
    if (!isWellFormed(s)) throw new TesseraError('INVALID_ARGUMENT', `${JSON.stringify(s.slice(0, 64))} has a lone surrogate, which UTF-8 cannot encode`);
    return this.bytes(utf8(s));
  }

  raw(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** A copy of what was written, exactly sized. The writer must not be used after. */
  finish(): Uint8Array {
    const out = copyBytes(this.buf, 0, this.len);
    this.release();
    return out;
  }

  /**
   * Hands `use` a view of what was written, valid only during the call (the scratch goes back to
   * the pool after it), and returns what `use` returns: bytes that are copied at once, such as a
   * value passed to KvBackend.put, cost no allocation. The writer must not be used after.
   */
  finishInto<T>(use: (bytes: Uint8Array) => T): T {
    try {
      return use(this.buf.subarray(0, this.len));
    } finally {
      this.release();
    }
  }

  /**
   * What was written, in an array that owns its buffer (no pool: the result may be kept, e.g.
   * as a log entry). Without a copy when the writer was sized up front for a large payload and
   * is nearly full. The writer must not be used after.
   */
  finishOwned(): Uint8Array {
    if (this.borrowed || this.buf.length - this.len > this.buf.length / 8) {
      const out = unpooledCopy(this.buf.subarray(0, this.len));
      this.release();
      return out;
    }
    return this.buf.subarray(0, this.len);
  }

  private release(): void {
    if (this.borrowed && this.buf.length <= SCRATCH_KEEP_MAX_BYTES && scratchPool.length < SCRATCH_POOL_MAX) scratchPool.push(this.buf);
    this.borrowed = false;
    this.buf = EMPTY;
    this.len = 0;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = Math.max(16, this.buf.length * 2);
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    // A borrowed scratch outgrown here stays the writer's; the larger one goes back instead.
    this.buf = next;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Reads what ByteWriter wrote. Every malformed input raises `TesseraError(code)` naming `what`
 * (a function: built only then, for names that cost something to format).
 */
export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string | (() => string),
    private readonly code: TesseraErrorCode = 'CORRUPTION',
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const at = this.pos;
    this.pos += 4;
    return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
  }

  uvarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      // 8 bytes carry 56 bits, enough for 2^53 - 1; anything longer is malformed.
      if (i === 8) this.fail('varint too long');
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        // A zero final byte after others means a non-canonical encoding; reject it so each
        // number has exactly one encoding.
        if (b === 0 && i > 0) this.fail('non-canonical varint');
        break;
      }
      scale *= 0x80;
    }
    if (!Number.isSafeInteger(result)) this.fail('varint exceeds 2^53 - 1');
    return result;
  }

  /** A copy, so the result never aliases (and is never changed through) the input buffer. */
  bytes(): Uint8Array {
    const n = this.uvarint();
    this.need(n);
    const out = copyBytes(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A copy of exactly `n` bytes (a fixed-size field, no length prefix). */
  fixed(n: number): Uint8Array {
    this.need(n);
    const out = copyBytes(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-prefixed bytes as a view of the input, not a copy: for large payloads of immutable input. */
  bytesView(): Uint8Array {
    const n = this.uvarint();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A copy of every byte not read yet (an unprefixed trailing field), consuming them. */
  rest(): Uint8Array {
    const out = copyBytes(this.buf, this.pos);
    this.pos = this.buf.length;
    return out;
  }

  string(): string {
    // Decoded from a view: the string never aliases the input, so no copy is needed first.
    const b = this.bytesView();
    try {
      return fromUtf8(b);
    } catch {
      return this.fail('invalid UTF-8');
    }
  }

  /** Call when decoding is complete: trailing bytes mean the input was not what we think. */
  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }

  fail(why: string): never {
    const what = typeof this.what === 'string' ? this.what : this.what();
    throw new TesseraError(this.code, `${what}: ${why} (at byte ${this.pos} of ${this.buf.length})`);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail(`truncated: need ${n} more bytes`);
  }
}
