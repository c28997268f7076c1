import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/util/bytes.ts';
import { crc32c } from '../../src/util/crc32c.ts';

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(utf8('123456789'))).toBe(0xe3069283);
  });

  it('equals a bit-at-a-time reference on inputs of every length and alignment', () => {
    const reference = (data: Uint8Array): number => {
      let crc = 0xffffffff;
      for (const byte of data) {
        crc ^= byte;
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return ~crc >>> 0;
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (data, skip) => {
        const view = data.subarray(Math.min(skip, data.length));
        expect(crc32c(view)).toBe(reference(view));
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('is 0 for empty input', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('matches RFC 3720 (iSCSI) test vectors', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });

  it('continues incrementally: crc(b, crc(a)) = crc(a ++ b)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const whole = new Uint8Array(a.length + b.length);
        whole.set(a);
        whole.set(b, a.length);
        expect(crc32c(b, crc32c(a))).toBe(crc32c(whole));
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('continuing with empty input changes nothing', () => {
    const c = crc32c(utf8('tessera'));
    expect(crc32c(new Uint8Array(0), c)).toBe(c);
  });
});
