/**
 * The leader's window of append messages in flight to one follower in replicate state,
 * bounded by count and bytes. Freed when the follower acknowledges an index.
 */
import { assert } from '../util/assert.ts';

export class Inflights {
  private indexes: number[] = [];
  private sizes: number[] = [];
  private start = 0;
  private bytes = 0;

  constructor(
    readonly maxMsgs: number,
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.indexes.length - this.start;
  }

  get inflightBytes(): number {
    return this.bytes;
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'inflights: add to a full window');
    const n = this.indexes.length;
    assert(n === this.start || (this.indexes[n - 1] ?? 0) < lastIndex, 'inflights: indexes must increase');
    this.indexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.start < this.indexes.length && (this.indexes[this.start] ?? 0) <= index) {
      this.bytes -= this.sizes[this.start] ?? 0;
      this.start++;
    }
    if (this.start > 64 && this.start * 2 > this.indexes.length) {
      this.indexes = this.indexes.slice(this.start);
      this.sizes = this.sizes.slice(this.start);
      this.start = 0;
    }
  }

  /** Frees the oldest message (presumed lost), if any. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count >= this.maxMsgs || this.bytes >= this.maxBytes;
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.start = 0;
    this.bytes = 0;
  }
}
