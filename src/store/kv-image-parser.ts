/**
 * Parses an image stream (kv-image.ts) from chunks cut anywhere, handing complete records to a
 * sink in order. It checks everything it can on the way (order, sizes, the trailer checksum at
 * the end); the caller must not make the result live before end() returned.
 */
import { TesseraError } from '../errors.ts';
import { MAX_KEY_BYTES } from '../limits.ts';
import { bytesEqual, compareBytes } from '../util/bytes.ts';
import { crc32c } from '../util/crc32c.ts';
import type { KvTable } from './kv-backend.ts';
import { IMAGE_END, IMAGE_MAGIC, IMAGE_VERSION, tableOfTag } from './kv-image.ts';

export interface ImageRecord {
  readonly table: KvTable;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

const HEADER_BYTES = IMAGE_MAGIC.length + 1;

export class KvImageParser {
  private chunks: Uint8Array[] = [];
  private available = 0;
  /** Bytes needed before the next parse attempt can succeed (avoids rescanning tiny chunks). */
  private need = HEADER_BYTES;
  private crc = 0;
  private state: 'header' | 'records' | 'trailer' | 'done' = 'header';
  private lastTag = 0;
  private lastKey: Uint8Array | null = null;
  private position = 0;

  constructor(private readonly sink: (records: ImageRecord[]) => void) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.state === 'done') this.fail('bytes after the trailer');
    this.chunks.push(chunk);
    this.available += chunk.length;
    const out: ImageRecord[] = [];
    while (this.available >= this.need && this.step(out));
    // What stays buffered is copied once, so the caller may reuse its chunk after this returns.
    const last = this.chunks.length - 1;
    if (last >= 0 && this.chunks[last]!.buffer === chunk.buffer) this.chunks[last] = Uint8Array.prototype.slice.call(this.chunks[last]!);
    if (out.length > 0) this.sink(out);
  }

  /** Throws CORRUPTION unless the whole image, trailer included, was pushed and checked. */
  end(): void {
    if (this.state !== 'done') this.fail(`truncated (${this.state})`);
  }

  /** One parse step; false when more bytes are needed (and `need` says how many). */
  private step(out: ImageRecord[]): boolean {
    switch (this.state) {
      case 'header': {
        const h = this.take(HEADER_BYTES);
        if (!bytesEqual(h.subarray(0, IMAGE_MAGIC.length), IMAGE_MAGIC)) this.fail('bad magic');
        if (h[IMAGE_MAGIC.length] !== IMAGE_VERSION) this.fail(`unknown version ${h[IMAGE_MAGIC.length]}`);
        this.state = 'records';
        this.need = 1;
        return true;
      }
      case 'records':
        return this.record(out);
      case 'trailer': {
        const t = this.take(4, false);
        const stored = new DataView(t.buffer, t.byteOffset, 4).getUint32(0, true);
        if (stored !== this.crc) this.fail('checksum mismatch');
        this.state = 'done';
        if (this.available > 0) this.fail('bytes after the trailer');
        return false;
      }
      case 'done':
        return false;
    }
  }

  private record(out: ImageRecord[]): boolean {
    const tag = this.byteAt(0);
    if (tag === IMAGE_END) {
      this.take(1);
      this.state = 'trailer';
      this.need = 4;
      return true;
    }
    const table = tableOfTag(tag);
    if (table === undefined || tag < this.lastTag) this.fail(`bad or out-of-order table tag ${tag}`);
    const keyLen = this.varintAt(1);
    if (keyLen === null) return false;
    if (keyLen.value === 0 || keyLen.value > MAX_KEY_BYTES) this.fail(`key length ${keyLen.value}`);
    const valueAt = 1 + keyLen.size + keyLen.value;
    if (this.available <= valueAt) return this.wait(valueAt + 1);
    const valueLen = this.varintAt(valueAt);
    if (valueLen === null) return false;
    const total = valueAt + valueLen.size + valueLen.value;
    if (this.available < total) return this.wait(total);
    const rec = this.take(total);
    const key = rec.subarray(1 + keyLen.size, valueAt);
    if (tag === this.lastTag && this.lastKey !== null && compareBytes(this.lastKey, key) >= 0) this.fail('keys out of order');
    this.lastTag = tag;
    this.lastKey = key;
    out.push({ table, key, value: rec.subarray(valueAt + valueLen.size) });
    this.need = 1;
    return true;
  }

  private wait(bytes: number): false {
    this.need = bytes;
    return false;
  }

  /** An unsigned LEB128 varint at `offset` of the unread bytes; null (and `need` set) if incomplete. */
  private varintAt(offset: number): { value: number; size: number } | null {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (offset + i >= this.available) {
        this.wait(offset + i + 1);
        return null;
      }
      const b = this.byteAt(offset + i);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail('non-canonical varint');
        if (!Number.isSafeInteger(value)) this.fail('varint exceeds 2^53 - 1');
        return { value, size: i + 1 };
      }
      scale *= 0x80;
    }
    return this.fail('varint too long');
  }

  private byteAt(offset: number): number {
    for (const c of this.chunks) {
      if (offset < c.length) return c[offset]!;
      offset -= c.length;
    }
    return this.fail('read past the buffered bytes');
  }

  /**
   * Removes the next n bytes (n <= available) and returns them as one array of their own (the
   * last key is kept for the order check, and a Buffer's slice() would be a view, not a copy).
   */
  private take(n: number, checksummed = true): Uint8Array {
    let out: Uint8Array;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = Uint8Array.prototype.slice.call(first, 0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - at);
        out.set(c.subarray(0, k), at);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.available -= n;
    this.position += n;
    if (checksummed) this.crc = crc32c(out, this.crc);
    return out;
  }

  private fail(why: string): never {
    throw new TesseraError('CORRUPTION', `snapshot image: ${why} (at byte ${this.position})`);
  }
}
