import { describe, expect, it } from 'vitest';
import { TraceHash, fnv1a64 } from '../../../sim/core/trace.ts';

const hashOf = (...records: (string | number | boolean)[][]): string => {
  const t = new TraceHash();
  for (const r of records) t.add(...r);
  return t.hex();
};

describe('TraceHash', () => {
  it('implements FNV-1a 64 (reference vectors)', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(fnv1a64(enc(''))).toBe('cbf29ce484222325');
    expect(fnv1a64(enc('a'))).toBe('af63dc4c8601ec8c');
    expect(fnv1a64(enc('foobar'))).toBe('85944171f73967e8');
  });

  it('agrees with a BigInt FNV-1a 64 on random bytes', () => {
    const bytes = Uint8Array.from({ length: 500 }, (_, i) => (i * 151 + 7) & 0xff);
    let h = 0xcbf29ce484222325n;
    for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
    expect(fnv1a64(bytes)).toBe(h.toString(16).padStart(16, '0'));
  });

  it('gives identical hashes for identical sequences', () => {
    const recs = [['deliver', 12, 'app', 1, 2, true], ['x', 0.5, -3, false, '']];
    expect(hashOf(...recs)).toBe(hashOf(...recs));
    expect(new TraceHash().hex()).toBe('cbf29ce484222325');
  });

  it('depends on order, types and record boundaries', () => {
    const hashes = [
      hashOf(['a'], ['b']),
      hashOf(['b'], ['a']),
      hashOf(['a', 'b']),
      hashOf(['ab']),
      hashOf([1]),
      hashOf(['1']),
      hashOf([true]),
      hashOf([1.5]),
      hashOf([2 ** 40]),
      hashOf([-1]),
      hashOf([]),
      hashOf([], []),
    ];
    expect(new Set(hashes).size).toBe(hashes.length);
    expect(hashOf([0])).toBe(hashOf([-0]));
    expect(hashOf([Number.NaN])).toBe(hashOf([0 / 0]));
  });

  it('keeps the last N lines, oldest first', () => {
    const t = new TraceHash({ recent: 3 });
    t.add('a', 1);
    t.add('b', 2);
    expect(t.recent()).toEqual(['a 1', 'b 2']);
    t.add('c', 3);
    t.add('d', 4);
    t.add('e', 5);
    expect(t.recent()).toEqual(['c 3', 'd 4', 'e 5']);
    expect(t.count).toBe(5);
    expect(new TraceHash().recent()).toEqual([]);
  });
});
