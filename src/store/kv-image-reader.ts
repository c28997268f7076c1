/**
 * Streams the image of one consistent view (kv-image.ts), a page of records at a time, so only
 * a page and the caller's chunk are ever in memory.
 */
import { assert } from '../util/assert.ts';
import { bytesEqual } from '../util/bytes.ts';
import { crc32c } from '../util/crc32c.ts';
import { KV_TABLES, type KvSnapshotView } from './kv-backend.ts';
import { encodeImageRecord, IMAGE_END, imageHeader } from './kv-image.ts';
import { readApplied } from './kv-meta.ts';
import type { SnapshotReader } from './kv-state-machine.ts';

const PAGE = 256;

export class KvImageReader implements SnapshotReader {
  readonly index: number;
  readonly term: number;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  /** Offset into queue[0] already handed out. */
  private offset = 0;
  private crc = 0;
  private table = 0;
  /** Last key emitted from the current table (the next page starts at it, inclusive). */
  private lastKey: Uint8Array | null = null;
  private produced = false;
  private closed = false;

  constructor(private readonly view: KvSnapshotView) {
    const applied = readApplied(view);
    this.index = applied.index;
    this.term = applied.term;
    this.emit(imageHeader());
  }

  read(maxBytes: number): Uint8Array | null {
    assert(!this.closed, 'snapshot reader is closed');
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 1, () => `read(${maxBytes})`);
    while (this.queued < maxBytes && !this.produced) this.produce();
    if (this.queued === 0) return null;
    const out = new Uint8Array(Math.min(maxBytes, this.queued));
    let at = 0;
    while (at < out.length) {
      const head = this.queue[0]!;
      const n = Math.min(head.length - this.offset, out.length - at);
      out.set(head.subarray(this.offset, this.offset + n), at);
      at += n;
      this.offset += n;
      if (this.offset === head.length) {
        this.queue.shift();
        this.offset = 0;
      }
    }
    this.queued -= out.length;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.view.close();
  }

  private produce(): void {
    const table = KV_TABLES[this.table];
    if (table === undefined) {
      this.emit(Uint8Array.of(IMAGE_END));
      const trailer = new Uint8Array(4);
      new DataView(trailer.buffer).setUint32(0, this.crc, true);
      this.queue.push(trailer);
      this.queued += 4;
      this.produced = true;
      return;
    }
    const last = this.lastKey;
    let page = this.view.range(table, last ?? new Uint8Array(0), null, PAGE + 1);
    if (last !== null && page[0] !== undefined && bytesEqual(page[0].key, last)) page = page.slice(1);
    if (page.length === 0) {
      this.table++;
      this.lastKey = null;
      return;
    }
    for (const { key, value } of page) this.emit(encodeImageRecord(table, key, value));
    this.lastKey = page[page.length - 1]!.key;
  }

  private emit(bytes: Uint8Array): void {
    this.crc = crc32c(bytes, this.crc);
    this.queue.push(bytes);
    this.queued += bytes.length;
  }
}
