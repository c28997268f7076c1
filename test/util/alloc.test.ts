import { describe, expect, it } from 'vitest';
import { allocBytes, copyBytes, ownedBytes } from '../../src/util/alloc.ts';

describe('allocBytes / copyBytes', () => {
  it('returns plain Uint8Arrays of the asked length, small ones sharing a pool, large ones on their own', () => {
    const a = allocBytes(40);
    const b = allocBytes(40);
    expect(a.constructor).toBe(Uint8Array);
    expect(a.length).toBe(40);
    expect(a.buffer).toBe(b.buffer); // one pool slab
    const big = allocBytes(Buffer.poolSize);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(Buffer.poolSize);
  });

  it('copies never alias their source or each other, and slice() of a result copies', () => {
    const src = Uint8Array.of(1, 2, 3, 4, 5);
    const c = copyBytes(src, 1, 4);
    expect(Array.from(c)).toEqual([2, 3, 4]);
    src[2] = 99;
    expect(c[1]).toBe(3);
    const s = c.slice(0, 2);
    s[0] = 42;
    expect(c[0]).toBe(2);
    const d = copyBytes(c);
    d[0] = 7;
    expect(c[0]).toBe(2);
  });

  it('ownedBytes keeps an array that is its whole buffer, and copies a view out of a bigger one', () => {
    const own = new Uint8Array([1, 2, 3]);
    expect(ownedBytes(own)).toBe(own);
    const pooled = copyBytes(own);
    const kept = ownedBytes(pooled);
    expect(kept).not.toBe(pooled);
    expect(Array.from(kept)).toEqual([1, 2, 3]);
    expect(kept.buffer.byteLength).toBe(3);
    pooled[0] = 9;
    expect(kept[0]).toBe(1);
  });
});
