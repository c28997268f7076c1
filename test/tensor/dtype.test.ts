/** Dtype sizes, shape arithmetic, and typed-array conversion (alignment, byte order, range checks). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DTYPES, byteLength, bytesPerElement, elementCount, fromTypedArray, isDtype, toTypedArray } from '../../src/tensor/dtype.ts';
import type { Dtype, Tensor } from '../../src/tensor/tensor.ts';
import { expectErrorSync } from './fixtures.ts';

/** `bytes` placed at an odd offset of a larger buffer, so no typed array could view them in place. */
function misaligned(bytes: number[]): Uint8Array {
  const buffer = new Uint8Array(bytes.length + 3);
  buffer.set(bytes, 1);
  return buffer.subarray(1, 1 + bytes.length);
}

const tensor = (dtype: Dtype, shape: number[], bytes: number[]): Tensor => ({ dtype, shape, data: misaligned(bytes) });

describe('dtype table', () => {
  it('has the 13 safetensors dtypes with their sizes', () => {
    expect(DTYPES).toEqual(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL']);
    expect(DTYPES.map(bytesPerElement)).toEqual([8, 4, 2, 2, 8, 4, 2, 1, 8, 4, 2, 1, 1]);
  });

  it('isDtype accepts exactly the names', () => {
    for (const d of DTYPES) expect(isDtype(d)).toBe(true);
    for (const s of ['f32', 'F8', 'toString', '__proto__', '', 4, null, undefined]) expect(isDtype(s)).toBe(false);
  });

  it('elementCount and byteLength', () => {
    expect(elementCount([])).toBe(1);
    expect(elementCount([2, 3, 4])).toBe(24);
    expect(elementCount([0])).toBe(0);
    expect(elementCount([2, 0])).toBe(0);
    expect(byteLength('F64', [3, 2])).toBe(48);
    expect(byteLength('BF16', [])).toBe(2);
    expect(byteLength('BOOL', [5])).toBe(5);
  });

  it.each([[[-1]], [[1.5]], [[NaN]], [[Infinity]], [[2 ** 53]], [[2 ** 30, 2 ** 30]], [['3' as unknown as number]]])(
    'elementCount rejects %j',
    (shape) => expectErrorSync(() => elementCount(shape), 'INVALID_ARGUMENT'),
  );

  it('byteLength rejects a count that fits but whose bytes do not', () => {
    expectErrorSync(() => byteLength('F64', [2 ** 51]), 'INVALID_ARGUMENT');
  });
});

describe('toTypedArray', () => {
  it('reads little-endian bytes at any offset for every dtype', () => {
    expect([...toTypedArray(tensor('F64', [1], [0, 0, 0, 0, 0, 0, 0xf0, 0x3f]))]).toEqual([1]);
    expect([...toTypedArray(tensor('F32', [2], [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]))]).toEqual([1, -2]);
    expect([...toTypedArray(tensor('F16', [2], [0x00, 0x3c, 0xff, 0x7b]))]).toEqual([1, 65504]);
    expect([...toTypedArray(tensor('BF16', [2], [0x80, 0x3f, 0x40, 0xc0]))]).toEqual([1, -3]);
    expect([...toTypedArray(tensor('I64', [1], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))]).toEqual([-2n]);
    expect([...toTypedArray(tensor('U64', [1], [0, 0, 0, 0, 0, 0, 0, 0x80]))]).toEqual([2n ** 63n]);
    expect([...toTypedArray(tensor('I32', [1], [0xff, 0xff, 0xff, 0xff]))]).toEqual([-1]);
    expect([...toTypedArray(tensor('U32', [1], [0x01, 0x02, 0x03, 0x04]))]).toEqual([0x04030201]);
    expect([...toTypedArray(tensor('I16', [1], [0x00, 0x80]))]).toEqual([-32768]);
    expect([...toTypedArray(tensor('U16', [1], [0x34, 0x12]))]).toEqual([0x1234]);
    expect([...toTypedArray(tensor('I8', [2], [0x80, 0x7f]))]).toEqual([-128, 127]);
    expect([...toTypedArray(tensor('U8', [2], [0x80, 0x7f]))]).toEqual([128, 127]);
    expect([...toTypedArray(tensor('BOOL', [3], [0, 1, 7]))]).toEqual([0, 1, 1]);
  });

  it('returns the right array kinds', () => {
    expect(toTypedArray(tensor('F16', [0], []))).toBeInstanceOf(Float32Array);
    expect(toTypedArray(tensor('BF16', [0], []))).toBeInstanceOf(Float32Array);
    expect(toTypedArray(tensor('I64', [0], []))).toBeInstanceOf(BigInt64Array);
    expect(toTypedArray(tensor('U64', [0], []))).toBeInstanceOf(BigUint64Array);
    expect(toTypedArray(tensor('BOOL', [0], []))).toBeInstanceOf(Uint8Array);
    expect(toTypedArray(tensor('I8', [], [5]))).toEqual(new Int8Array([5]));
  });

  it('copies: changing the result does not change the tensor', () => {
    const t = tensor('U8', [2], [1, 2]);
    const a = toTypedArray(t);
    a[0] = 9;
    expect([...t.data]).toEqual([1, 2]);
  });

  it('keeps f16 NaN sign and payload in the float32 bits', () => {
    const out = toTypedArray(tensor('F16', [1], [0x01, 0xfe]));
    expect(new Uint32Array(out.buffer)[0]).toBe(0xffc02000);
  });

  it('rejects data of the wrong length', () => {
    expectErrorSync(() => toTypedArray(tensor('F32', [2], [0, 0, 0, 0])), 'INVALID_ARGUMENT');
  });
});

describe('fromTypedArray', () => {
  const bytes = (t: Tensor) => [...t.data];

  it('writes little-endian bytes', () => {
    expect(bytes(fromTypedArray('F32', [2], new Float32Array([1, -2])))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    expect(bytes(fromTypedArray('F32', [1], [1]))).toEqual([0, 0, 0x80, 0x3f]);
    expect(bytes(fromTypedArray('F64', [1], [1]))).toEqual([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    expect(bytes(fromTypedArray('U16', [1], new Uint16Array([0x1234])))).toEqual([0x34, 0x12]);
    expect(bytes(fromTypedArray('I16', [2], [-1, 0x1234]))).toEqual([0xff, 0xff, 0x34, 0x12]);
    expect(bytes(fromTypedArray('I32', [1], [-2]))).toEqual([0xfe, 0xff, 0xff, 0xff]);
    expect(bytes(fromTypedArray('U32', [1], [0xfffffffe]))).toEqual([0xfe, 0xff, 0xff, 0xff]);
    expect(bytes(fromTypedArray('I8', [1], [-1]))).toEqual([0xff]);
    expect(bytes(fromTypedArray('I64', [2], [-2n, 3]))).toEqual([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 0, 0, 0, 0]);
    expect(bytes(fromTypedArray('U64', [1], new BigUint64Array([2n ** 64n - 1n])))).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    expect(bytes(fromTypedArray('BOOL', [4], [0, 1, true, false]))).toEqual([0, 1, 1, 0]);
  });

  it('rounds F16 and BF16 to nearest even, from any float source', () => {
    expect(bytes(fromTypedArray('F16', [3], new Float32Array([1, 65520, 2 ** -25])))).toEqual([0x00, 0x3c, 0x00, 0x7c, 0x00, 0x00]);
    expect(bytes(fromTypedArray('F16', [1], new Float64Array([3 * 2 ** -25])))).toEqual([0x02, 0x00]);
    // float64 source rounds once: 1 + 2^-11 + 2^-30 → 1 + 2^-10.
    expect(bytes(fromTypedArray('F16', [1], [1 + 2 ** -11 + 2 ** -30]))).toEqual([0x01, 0x3c]);
    const tie = new Float32Array(new Uint32Array([0x3f808000, 0x3f818000, 0x7f800001]).buffer);
    expect(bytes(fromTypedArray('BF16', [3], tie))).toEqual([0x80, 0x3f, 0x82, 0x3f, 0xc0, 0x7f]);
  });

  it('F32 from a Float32Array keeps NaN payload bits', () => {
    const nan = new Float32Array(new Uint32Array([0xffa00001]).buffer);
    expect(bytes(fromTypedArray('F32', [1], nan))).toEqual([0x01, 0x00, 0xa0, 0xff]);
  });

  it('copies its input', () => {
    const src = new Uint8Array([1, 2]);
    const t = fromTypedArray('U8', [2], src);
    src[0] = 9;
    expect(bytes(t)).toEqual([1, 2]);
    expect(Object.isFrozen(t.shape)).toBe(true);
  });

  it.each<[Dtype, number[] | bigint[]]>([
    ['BOOL', [2]],
    ['BOOL', [0.5]],
    ['BOOL', [-1]],
    ['U8', [256]],
    ['U8', [-1]],
    ['I8', [128]],
    ['I8', [1.5]],
    ['I16', [32768]],
    ['U16', [NaN]],
    ['I32', [2 ** 31]],
    ['U32', [2 ** 32]],
    ['I64', [2n ** 63n]],
    ['I64', [0.5]],
    ['I64', [2 ** 53]],
    ['U64', [-1n]],
    ['F32', [1n]],
  ])('%s rejects %s', (dtype, values) => {
    expectErrorSync(() => fromTypedArray(dtype, [1], values), 'INVALID_ARGUMENT');
  });

  it('rejects a length that does not match the shape', () => {
    expectErrorSync(() => fromTypedArray('F32', [2, 2], new Float32Array(3)), 'INVALID_ARGUMENT', /holds 4 elements/);
    expectErrorSync(() => fromTypedArray('F32', [-1], []), 'INVALID_ARGUMENT');
  });
});

describe('round trips', () => {
  it('bytes → typed array → bytes is exact for every dtype (fixed-seed property)', () => {
    const cases = fc.constantFrom(...DTYPES).chain((dtype) =>
      fc.tuple(fc.constant(dtype), fc.nat(6)).chain(([d, n]) => fc.tuple(fc.constant(d), fc.constant(n), fc.uint8Array({ minLength: n * bytesPerElement(d), maxLength: n * bytesPerElement(d) }))),
    );
    fc.assert(
      fc.property(cases, ([dtype, n, raw]) => {
        // BOOL is 0/1 by definition; F16/BF16 NaNs are quieted on the way back, so keep them out.
        const data = dtype === 'BOOL' ? raw.map((b) => b & 1) : raw;
        const t: Tensor = { dtype, shape: [n], data };
        const back = fromTypedArray(dtype, [n], toTypedArray(t));
        const isHalfNaN = (lo: number, hi: number) => {
          const b = (hi << 8) | lo;
          return dtype === 'F16' ? (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0 : (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
        };
        for (let i = 0; i < data.length; i++) {
          if ((dtype === 'F16' || dtype === 'BF16') && isHalfNaN(data[i - (i % 2)]!, data[i - (i % 2) + 1]!)) continue;
          if (back.data[i] !== data[i]) return false;
        }
        return true;
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('every F16 and BF16 pattern survives toTypedArray → fromTypedArray (quiet NaNs exactly)', () => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const data = new Uint8Array(all.buffer);
    for (const dtype of ['F16', 'BF16'] as const) {
      const back = new Uint16Array(fromTypedArray(dtype, [0x10000], toTypedArray({ dtype, shape: [0x10000], data })).data.buffer);
      const quiet = dtype === 'F16' ? 0x0200 : 0x0040;
      const isNaN = (b: number) => (dtype === 'F16' ? (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0 : (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0);
      for (let b = 0; b < 0x10000; b++) {
        const want = isNaN(b) ? b | quiet : b;
        if (back[b] !== want) expect.fail(`${dtype} ${b.toString(16)} came back as ${back[b]!.toString(16)}`);
      }
    }
  });
});
