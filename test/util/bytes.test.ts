import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from '../../src/util/byte-codec.ts';
import { compareBytes, concatBytes, keySuccessor, prefixEnd } from '../../src/util/bytes.ts';
import { readU32be, readU64be, u32be, u64be } from '../../src/util/u64be.ts';

const startsWith = (k: Uint8Array, p: Uint8Array) => k.length >= p.length && compareBytes(k.subarray(0, p.length), p) === 0;

describe('prefixEnd', () => {
  it('bounds exactly the keys with the prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 6 }), (prefix, key) => {
        const end = prefixEnd(prefix);
        const inRange = compareBytes(key, prefix) >= 0 && (end === null || compareBytes(key, end) < 0);
        expect(inRange).toBe(startsWith(key, prefix));
      }),
      { seed: 3, numRuns: 1000 },
    );
  });

  it('increments the last byte below 0xff and drops the 0xff tail', () => {
    expect(prefixEnd(Uint8Array.of(1, 2))).toEqual(Uint8Array.of(1, 3));
    expect(prefixEnd(Uint8Array.of(1, 0xff, 0xff))).toEqual(Uint8Array.of(2));
    expect(prefixEnd(Uint8Array.of(0xff, 0xff))).toBeNull();
    expect(prefixEnd(new Uint8Array(0))).toBeNull();
  });
});

describe('byte helpers', () => {
  it('keySuccessor is the next key in byte order', () => {
    expect(keySuccessor(Uint8Array.of(1))).toEqual(Uint8Array.of(1, 0));
    expect(compareBytes(Uint8Array.of(1), keySuccessor(Uint8Array.of(1)))).toBe(-1);
  });

  it('concatBytes joins', () => {
    expect(concatBytes([Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)])).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('u64be and u32be order like the numbers and round-trip', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
        expect(readU64be(u64be(a))).toBe(a);
        expect(Math.sign(compareBytes(u64be(a), u64be(b)))).toBe(Math.sign(a - b));
      }),
      { seed: 5, numRuns: 500 },
    );
    expect(readU32be(u32be(0xfffffffe))).toBe(0xfffffffe);
    expect(() => u64be(-1)).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
    expect(readU64be(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBeNull();
  });

  it('ByteReader.rest returns the unread tail as a copy', () => {
    const data = new ByteWriter().uvarint(5).raw(Uint8Array.of(9, 8, 7)).finish();
    const r = new ByteReader(data, 'test');
    expect(r.uvarint()).toBe(5);
    const rest = r.rest();
    expect(rest).toEqual(Uint8Array.of(9, 8, 7));
    r.end();
    rest[0] = 0;
    expect(data[1]).toBe(9);
  });
});
