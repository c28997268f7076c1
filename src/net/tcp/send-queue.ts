/**
 * A FIFO of encoded frames bounded by count and bytes. When a frame would exceed a bound, the
 * oldest frames are dropped to make room: to a peer that fell behind, the newest heartbeat or
 * append is worth more than a stale one, and Raft recovers from any loss.
 */
import { TesseraError } from '../../errors.ts';

export class SendQueue {
  private frames: Uint8Array[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** Frames dropped to respect the bounds (over the queue's lifetime). */
  dropped = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {
    if (!(maxMessages >= 1 && maxBytes >= 1)) throw new TesseraError('INVALID_ARGUMENT', 'send queue bounds must be positive');
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  get bytes(): number {
    return this.queuedBytes;
  }

  push(frame: Uint8Array): void {
    if (frame.byteLength > this.maxBytes) {
      this.dropped++;
      return;
    }
    while (this.length > 0 && (this.length + 1 > this.maxMessages || this.queuedBytes + frame.byteLength > this.maxBytes)) {
      this.shift();
      this.dropped++;
    }
    this.frames.push(frame);
    this.queuedBytes += frame.byteLength;
  }

  shift(): Uint8Array | undefined {
    if (this.length === 0) return undefined;
    const frame = this.frames[this.head]!;
    this.frames[this.head++] = EMPTY; // release the frame now, not at compaction
    this.queuedBytes -= frame.byteLength;
    // Compact once the consumed prefix dominates, keeping shift amortised O(1).
    if (this.head > 64 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  clear(): void {
    this.dropped += this.length;
    this.frames = [];
    this.head = 0;
    this.queuedBytes = 0;
  }
}

const EMPTY = new Uint8Array(0);
