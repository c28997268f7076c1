import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../../src/errors.ts';
import { FRAME_HEADER_BYTES, FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from '../../../src/net/tcp/frame.ts';
import { MAX_MESSAGE_BYTES } from '../../../src/limits.ts';

function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Byte-exact comparison of payload lists (vitest's deep equality is slow on thousands of byte arrays). */
function same(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x).equals(Buffer.from(b[i]!)));
}

function drain(d: FrameDecoder, out: Uint8Array[]): void {
  for (let p = d.next(); p !== null; p = d.next()) out.push(p);
}

function header(length: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(h.buffer).setUint32(0, length, false);
  return h;
}

describe('frames', () => {
  const payloads = [bytesOf(0, 1), bytesOf(1, 2), bytesOf(5, 3), bytesOf(300, 4), bytesOf(0, 5), bytesOf(1000, 6)];
  const stream = concat(payloads.map((p) => encodeFrame(p)));

  it('the maximum frame is the 8 MiB message limit plus header slack', () => {
    expect(MAX_FRAME_BYTES).toBeGreaterThan(MAX_MESSAGE_BYTES);
    expect(MAX_FRAME_BYTES - MAX_MESSAGE_BYTES).toBeLessThanOrEqual(64 * 1024);
  });

  it('decodes the same frames whatever byte position the stream is split at', () => {
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const d = new FrameDecoder();
      const got: Uint8Array[] = [];
      d.push(stream.subarray(0, cut));
      drain(d, got);
      d.push(stream.subarray(cut));
      drain(d, got);
      expect(same(got, payloads), `cut at ${cut}`).toBe(true);
      for (const p of got) expect(p.constructor).toBe(Uint8Array);
      expect(d.bufferedBytes).toBe(0);
    }
  });

  it('decodes a frame larger than a socket chunk cut anywhere', () => {
    const big = bytesOf(200_000, 9);
    const framed = encodeFrame(big);
    for (const cut of [0, 1, 3, 4, 5, 65_536, 100_003, framed.byteLength - 1, framed.byteLength]) {
      const d = new FrameDecoder();
      const got: Uint8Array[] = [];
      for (const part of [framed.subarray(0, cut), framed.subarray(cut)]) {
        d.push(part);
        drain(d, got);
      }
      expect(got.length).toBe(1);
      expect(Buffer.from(got[0]!).equals(Buffer.from(big))).toBe(true);
    }
  });

  it('decodes a stream fed one byte at a time, and cut at every pair of positions', () => {
    const small = concat([encodeFrame(bytesOf(3, 1)), encodeFrame(bytesOf(0, 2)), encodeFrame(bytesOf(9, 3))]);
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    for (let i = 0; i < small.byteLength; i++) {
      d.push(small.subarray(i, i + 1));
      drain(d, got);
    }
    expect(got).toEqual([bytesOf(3, 1), bytesOf(0, 2), bytesOf(9, 3)]);
    for (let i = 0; i <= small.byteLength; i++) {
      for (let j = i; j <= small.byteLength; j++) {
        const e = new FrameDecoder();
        const out: Uint8Array[] = [];
        for (const part of [small.subarray(0, i), small.subarray(i, j), small.subarray(j)]) {
          e.push(part);
          drain(e, out);
        }
        expect(out.length).toBe(3);
      }
    }
  });

  it('decodes many frames arriving in one chunk', () => {
    const many = Array.from({ length: 5000 }, (_, i) => bytesOf(i % 17, i));
    const d = new FrameDecoder();
    const got: Uint8Array[] = [];
    d.push(concat(many.map((p) => encodeFrame(p))));
    drain(d, got);
    expect(same(got, many)).toBe(true);
  });

  it('payloads are fresh buffers, not views into the socket chunk', () => {
    const chunk = encodeFrame(bytesOf(10, 1));
    const d = new FrameDecoder();
    d.push(chunk);
    const p = d.next()!;
    chunk.fill(0);
    expect(p).toEqual(bytesOf(10, 1));
    expect(p.buffer.byteLength).toBe(10);
  });

  it('rejects an oversized length prefix as soon as the header is complete, before allocating', () => {
    const before = process.memoryUsage().arrayBuffers;
    const d = new FrameDecoder(1024);
    d.push(header(0xffff_ffff).subarray(0, 3));
    expect(d.next()).toBeNull();
    d.push(header(0xffff_ffff).subarray(3));
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    // Failed for good: the stream's framing is lost.
    expect(() => d.push(new Uint8Array([1]))).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
  });

  it('accepts a frame of exactly the maximum and rejects one byte more', () => {
    const d = new FrameDecoder(100);
    d.push(encodeFrame(bytesOf(100, 1), 100));
    expect(d.next()).toEqual(bytesOf(100, 1));
    const e = new FrameDecoder(100);
    e.push(header(101));
    expect(() => e.next()).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    const f = new FrameDecoder();
    f.push(header(MAX_FRAME_BYTES + 1));
    expect(() => f.next()).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
  });

  it('encodeFrame refuses a payload over the maximum', () => {
    expect(() => encodeFrame(new Uint8Array(11), 10)).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    const f = encodeFrame(new Uint8Array([7, 8]));
    expect([...f]).toEqual([0, 0, 0, 2, 7, 8]);
  });

  it('takeRest hands over exactly the unread bytes, from a frame boundary or mid-frame', () => {
    for (let cut = 0; cut <= stream.byteLength; cut += 97) {
      const d = new FrameDecoder();
      const got: Uint8Array[] = [];
      d.push(stream.subarray(0, cut));
      const first = d.next();
      if (first !== null) got.push(first);
      const rest = d.takeRest();
      expect(d.bufferedBytes).toBe(0);
      const e = new FrameDecoder();
      e.push(rest);
      e.push(stream.subarray(cut));
      drain(e, got);
      expect(same(got, payloads)).toBe(true);
    }
  });

  it('rejects bad maximums', () => {
    for (const bad of [-1, 1.5, 2 ** 32]) {
      let error: unknown;
      try {
        new FrameDecoder(bad);
      } catch (e) {
        error = e;
      }
      expect(isTesseraError(error, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
