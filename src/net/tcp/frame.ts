/**
 * Framing of a TCP byte stream: each frame is a u32 big-endian payload length, then the payload.
 *
 * The decoder is the first code that touches bytes from the network, so it is written for a
 * hostile peer: it checks a declared length against its maximum before allocating anything,
 * allocates exactly the declared payload (never more), and fails for good on the first error
 * (a stream that lost its framing cannot be resynchronised).
 */
import { TesseraError } from '../../errors.ts';
import { MAX_MESSAGE_BYTES } from '../../limits.ts';

export const FRAME_HEADER_BYTES = 4;
/**
 * Largest frame payload accepted on an authenticated connection: a maximal message plus room
 * for the fields around its bulk bytes (ids, terms, entry headers, snapshot metadata).
 */
export const MAX_FRAME_SLACK_BYTES = 64 * 1024;
export const MAX_FRAME_BYTES = MAX_MESSAGE_BYTES + MAX_FRAME_SLACK_BYTES;

/** A frame holding `payload` (copied: callers may pass a buffer they will reuse). */
export function encodeFrame(payload: Uint8Array, maxFrameBytes: number = MAX_FRAME_BYTES): Uint8Array {
  if (payload.byteLength > maxFrameBytes) {
    throw new TesseraError('MESSAGE_TOO_LARGE', `frame payload of ${payload.byteLength} bytes exceeds ${maxFrameBytes}`);
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  new DataView(frame.buffer).setUint32(0, payload.byteLength, false);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Cuts socket chunks into frame payloads. Pull-based so that a consumer can stop at a frame
 * boundary and hand the rest of the stream to another decoder (the handshake reads its frames
 * with a small maximum, the message stream after it with the large one):
 *
 *   decoder.push(chunk); for (let p; (p = decoder.next()) !== null; ) handle(p);
 *
 * Memory held: the chunks pushed and not yet consumed (the caller drains after every push) plus
 * one partial frame of at most maxFrameBytes.
 */
export class FrameDecoder {
  private readonly pending: Uint8Array[] = [];
  /** Read position in pending[0]. */
  private offset = 0;
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private frame: Uint8Array | null = null;
  private frameFilled = 0;
  private failure: TesseraError | null = null;

  constructor(readonly maxFrameBytes: number = MAX_FRAME_BYTES) {
    if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > 0xffff_ffff) {
      throw new TesseraError('INVALID_ARGUMENT', `maxFrameBytes must be an integer in [0, 2^32), got ${maxFrameBytes}`);
    }
  }

  push(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (chunk.byteLength > 0) this.pending.push(chunk);
  }

  /** The next complete payload (its own buffer), or null until more bytes arrive. */
  next(): Uint8Array | null {
    if (this.failure) throw this.failure;
    if (this.frame === null) {
      this.fill(this.header, FRAME_HEADER_BYTES, this.headerFilled, (n) => (this.headerFilled += n));
      if (this.headerFilled < FRAME_HEADER_BYTES) return null;
      const length = new DataView(this.header.buffer).getUint32(0, false);
      if (length > this.maxFrameBytes) {
        this.failure = new TesseraError('MESSAGE_TOO_LARGE', `peer announced a frame of ${length} bytes; the maximum is ${this.maxFrameBytes}`);
        this.pending.length = 0;
        throw this.failure;
      }
      this.frame = new Uint8Array(length);
      this.frameFilled = 0;
    }
    this.fill(this.frame, this.frame.byteLength, this.frameFilled, (n) => (this.frameFilled += n));
    if (this.frameFilled < this.frame.byteLength) return null;
    const payload = this.frame;
    this.frame = null;
    this.headerFilled = 0;
    return payload;
  }

  /** Bytes buffered and not yet returned as payloads (a partial header or frame included). */
  get bufferedBytes(): number {
    let n = this.frame === null ? this.headerFilled : FRAME_HEADER_BYTES + this.frameFilled;
    for (const c of this.pending) n += c.byteLength;
    return n - this.offset;
  }

  /**
   * Everything pushed and not returned by next(), as one detached buffer, re-encoded from the
   * start of the current partial frame; the decoder is then empty.
   */
  takeRest(): Uint8Array {
    if (this.failure) throw this.failure;
    const parts: Uint8Array[] = [];
    if (this.frame === null) parts.push(this.header.subarray(0, this.headerFilled));
    else parts.push(this.header, this.frame.subarray(0, this.frameFilled));
    parts.push(...this.pending.map((c, i) => (i === 0 ? c.subarray(this.offset) : c)));
    const rest = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      rest.set(p, at);
      at += p.byteLength;
    }
    this.pending.length = 0;
    this.offset = 0;
    this.headerFilled = 0;
    this.frame = null;
    this.frameFilled = 0;
    return rest;
  }

  /** Copies pending bytes into target[filled, size), consuming them. */
  private fill(target: Uint8Array, size: number, filled: number, advance: (n: number) => void): void {
    while (filled < size && this.pending.length > 0) {
      const chunk = this.pending[0]!;
      const n = Math.min(size - filled, chunk.byteLength - this.offset);
      target.set(chunk.subarray(this.offset, this.offset + n), filled);
      filled += n;
      advance(n);
      this.offset += n;
      if (this.offset === chunk.byteLength) {
        this.pending.shift();
        this.offset = 0;
      }
    }
  }
}
