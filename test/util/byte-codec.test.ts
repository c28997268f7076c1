import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from '../../src/util/byte-codec.ts';
import { bytesToBinaryString, compareBytes } from '../../src/util/bytes.ts';

describe('ByteWriter / ByteReader', () => {
  it('round-trips every field kind', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.maxSafeNat(),
        fc.uint8Array({ maxLength: 300 }),
        fc.string(),
        (a, b, c, d, e) => {
          const bytes = new ByteWriter(1).u8(a).u32(b).uvarint(c).bytes(d).string(e).finish();
          const r = new ByteReader(bytes, 'test');
          expect([r.u8(), r.u32(), r.uvarint(), r.bytes(), r.string()]).toEqual([a, b, c, d, e]);
          r.end();
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it('encodes varints canonically (one encoding per number)', () => {
    expect(new ByteWriter().uvarint(0).finish()).toEqual(Uint8Array.of(0));
    expect(new ByteWriter().uvarint(300).finish()).toEqual(Uint8Array.of(0xac, 0x02));
    expect(() => new ByteReader(Uint8Array.of(0x80, 0x00), 't').uvarint()).toThrow(/non-canonical/);
    expect(new ByteReader(new ByteWriter().uvarint(Number.MAX_SAFE_INTEGER).finish(), 't').uvarint()).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it('refuses integers it cannot represent exactly', () => {
    expect(() => new ByteWriter().uvarint(2 ** 53)).toThrow(/INVARIANT/);
    expect(() => new ByteWriter().uvarint(-1)).toThrow(/INVARIANT/);
    expect(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), 't').uvarint()).toThrow(
      /exceeds/,
    );
  });

  it('reports truncation and trailing bytes with the chosen error code', () => {
    const bytes = new ByteWriter().bytes(Uint8Array.of(1, 2, 3)).finish();
    expect(() => new ByteReader(bytes.subarray(0, 3), 'thing', 'INVALID_ARGUMENT').bytes()).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/thing: truncated/) }),
    );
    const r = new ByteReader(bytes, 'thing');
    r.u8();
    expect(() => r.end()).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
  });

  it('returns copies, not views of the input', () => {
    const bytes = new ByteWriter().bytes(Uint8Array.of(7)).finish();
    const out = new ByteReader(bytes, 't').bytes();
    bytes[1] = 9;
    expect(out[0]).toBe(7);
  });

  it('gives every finished result its own bytes while writers nest, grow and are abandoned', () => {
    // Writers borrow scratch buffers: a result must never change when later writers reuse one.
    const outer = new ByteWriter(8).u8(1);
    const abandoned = new ByteWriter(8).u8(0xee).bytes(new Uint8Array(100).fill(0xee));
    void abandoned; // never finished: its scratch is never returned
    const inner = new ByteWriter(8).bytes(new Uint8Array(40_000).fill(2)).finish(); // grows past the scratch
    const first = outer.bytes(inner.subarray(3, 6)).finish();
    const results = [first, ...Array.from({ length: 20 }, (_, i) => new ByteWriter().u32(i).bytes(Uint8Array.of(i, i)).finish())];
    expect(Array.from(first)).toEqual([1, 3, 2, 2, 2]);
    results.slice(1).forEach((r, i) => expect(Array.from(r)).toEqual([i, 0, 0, 0, 2, i, i]));
    expect(inner.length).toBe(40_003);
    expect(inner.subarray(3).every((b) => b === 2)).toBe(true);
  });

  it('hands a buffer sized up front to finishOwned without a copy, and copies a borrowed one', () => {
    const big = new ByteWriter(100_000).raw(new Uint8Array(95_000).fill(5));
    const owned = big.finishOwned();
    expect(owned.length).toBe(95_000);
    expect(owned.buffer.byteLength).toBe(100_000);
    const small = new ByteWriter(16).u8(9).finishOwned();
    expect(Array.from(small)).toEqual([9]);
    new ByteWriter(16).u8(1).finish(); // reuses the scratch small came from
    expect(Array.from(small)).toEqual([9]);
  });
  it('hands finishInto a view of what was written, then lends the scratch to the next writer', () => {
    const w = new ByteWriter(8).u8(1).uvarint(300);
    let seen: Uint8Array | null = null;
    const back = w.finishInto((bytes) => {
      seen = bytes;
      return Array.from(bytes);
    });
    expect(back).toEqual([1, 0xac, 0x02]);
    new ByteWriter(8).u8(0xee).u8(0xee).u8(0xee).finish();
    // The view was valid only during the call: its scratch has been written over since.
    expect(Array.from(seen!)).toEqual([0xee, 0xee, 0xee]);
    expect(() => new ByteWriter(8).u8(2).finishInto(() => {
      throw new Error('use failed');
    })).toThrow('use failed');
    expect(Array.from(new ByteWriter(8).u8(3).finish())).toEqual([3]);
  });
});

describe('byte order', () => {
  it('binary strings sort exactly as compareBytes orders bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 20 }), (keys) => {
        const byBytes = [...keys].sort(compareBytes).map(bytesToBinaryString);
        const byStrings = keys.map(bytesToBinaryString).sort();
        expect(byStrings).toEqual(byBytes);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
