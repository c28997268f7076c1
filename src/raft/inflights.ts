/**
 * The leader's window of append messages in flight to one follower in replicate state,
 * bounded by count and bytes. Freed when the follower acknowledges an index.
 */
import { assert } from '../util/assert.ts';
import { PairQueue } from '../util/pair-queue.ts';

export class Inflights {
  /** (last index, bytes) of each message in flight, oldest first. */
  private readonly window = new PairQueue();
  private bytes = 0;

  constructor(
    readonly maxMsgs: number,
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.window.length;
  }

  get inflightBytes(): number {
    return this.bytes;
  }

  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), 'inflights: add to a full window');
    assert(this.window.length === 0 || this.window.lastA() < lastIndex, 'inflights: indexes must increase');
    this.window.push(lastIndex, bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.window.length > 0 && this.window.firstA() <= index) {
      this.bytes -= this.window.firstB();
      this.window.shift();
    }
  }

  /** Frees the oldest message (presumed lost), if any. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.window.firstA());
  }

  full(): boolean {
    return this.count >= this.maxMsgs || this.bytes >= this.maxBytes;
  }

  reset(): void {
    this.window.clear();
    this.bytes = 0;
  }
}
