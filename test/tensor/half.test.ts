/**
 * f16 / bf16 conversions against hand-computed bit patterns, an exhaustive round trip of every
 * 16-bit pattern, and property tests against an independent reference (nearest of the two
 * neighbouring representable values, ties to even).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32Bits,
  bf16BitsToNumber,
  f16BitsToF32Bits,
  f16BitsToNumber,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  toBf16Bits,
  toF16Bits,
} from '../../src/tensor/half.ts';

const view = new DataView(new ArrayBuffer(8));
function f32FromBits(bits: number): number {
  view.setUint32(0, bits >>> 0);
  return view.getFloat32(0);
}
function f32Bits(x: number): number {
  view.setFloat32(0, x);
  return view.getUint32(0);
}

const isF16NaN = (b: number) => (b & 0x7c00) === 0x7c00 && (b & 0x03ff) !== 0;
const isBf16NaN = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x007f) !== 0;
const hex = (b: number) => `0x${b.toString(16).padStart(4, '0')}`;

describe('f16 narrowing, hand-computed patterns', () => {
  const cases: [string, number, number][] = [
    ['0', 0, 0x0000],
    ['-0', -0, 0x8000],
    ['1', 1, 0x3c00],
    ['-2', -2, 0xc000],
    ['0.5', 0.5, 0x3800],
    ['largest finite 65504', 65504, 0x7bff],
    ['65519 rounds down to 65504', 65519, 0x7bff],
    ['65520: tie between 65504 and 2^16 rounds to even, which overflows', 65520, 0x7c00],
    ['-65520', -65520, 0xfc00],
    ['1e6 overflows', 1e6, 0x7c00],
    ['float32 max overflows', f32FromBits(0x7f7fffff), 0x7c00],
    ['Infinity', Infinity, 0x7c00],
    ['-Infinity', -Infinity, 0xfc00],
    ['smallest normal 2^-14', 2 ** -14, 0x0400],
    ['largest subnormal 1023 * 2^-24', 1023 * 2 ** -24, 0x03ff],
    ['smallest subnormal 2^-24', 2 ** -24, 0x0001],
    ['2^-25: tie between 0 and 2^-24 goes to even 0', 2 ** -25, 0x0000],
    ['-2^-25 keeps its sign', -(2 ** -25), 0x8000],
    ['just above 2^-25 rounds up', 2 ** -25 * (1 + 2 ** -23), 0x0001],
    ['3 * 2^-25: tie between 1 and 2 ulps goes to even 2', 3 * 2 ** -25, 0x0002],
    ['5 * 2^-25: tie between 2 and 3 ulps goes to even 2', 5 * 2 ** -25, 0x0002],
    ['subnormal rounding up into the smallest normal', (1024 - 0.5) * 2 ** -24, 0x0400],
    ['1 + 2^-11: tie goes to even 1', 1 + 2 ** -11, 0x3c00],
    ['1 + 3 * 2^-11: tie goes to even 1 + 2^-9', 1 + 3 * 2 ** -11, 0x3c02],
    ['2 - 2^-12 rounds up across the binade', 2 - 2 ** -12, 0x4000],
    ['0.1', 0.1, 0x2e66],
    ['1/3', 1 / 3, 0x3555],
    ['pi', Math.PI, 0x4248],
    ['far below the subnormals', 1e-30, 0x0000],
    ['float64 min subnormal', 5e-324, 0x0000],
    ['float64 max', Number.MAX_VALUE, 0x7c00],
    // One step, not two: via float32 this would round to 1 + 2^-11 and then tie down to 1.
    ['float64 rounded once (no double rounding)', 1 + 2 ** -11 + 2 ** -30, 0x3c01],
  ];
  it.each(cases)('%s', (_, x, bits) => {
    expect(hex(toF16Bits(x))).toBe(hex(bits));
  });

  it('NaN becomes a quiet NaN', () => {
    const b = toF16Bits(NaN);
    expect(isF16NaN(b)).toBe(true);
    expect(b & 0x0200).toBe(0x0200);
  });

  it('float32 NaN bits keep sign and top payload bits, and stay NaN with a payload only in low bits', () => {
    expect(hex(f32BitsToF16Bits(0x7fc00000))).toBe('0x7e00');
    expect(hex(f32BitsToF16Bits(0xffc00000))).toBe('0xfe00');
    // Payload only in bits the narrowing drops: still a NaN (the quiet bit is forced).
    expect(hex(f32BitsToF16Bits(0x7f800001))).toBe('0x7e00');
    expect(hex(f32BitsToF16Bits(0xff800001))).toBe('0xfe00');
    // Top payload bits survive: f32 mantissa 0x5fe000 → f16 payload 0x2ff.
    expect(hex(f32BitsToF16Bits(0x7fdfe000))).toBe('0x7eff');
  });
});

describe('bf16 narrowing, hand-computed patterns', () => {
  const cases: [string, number, number][] = [
    ['1.0', 0x3f800000, 0x3f80],
    ['-0', 0x80000000, 0x8000],
    ['tie (low half 0x8000) with even upper half rounds down', 0x3f808000, 0x3f80],
    ['tie with odd upper half rounds up to even', 0x3f818000, 0x3f82],
    ['just above the tie rounds up', 0x3f808001, 0x3f81],
    ['just below the tie rounds down', 0x3f807fff, 0x3f80],
    ['largest float32 rounds to infinity', 0x7f7fffff, 0x7f80],
    ['largest bf16 stays', 0x7f7f0000, 0x7f7f],
    ['-largest float32 rounds to -infinity', 0xff7fffff, 0xff80],
    ['Infinity', 0x7f800000, 0x7f80],
    ['-Infinity', 0xff800000, 0xff80],
    ['float32 subnormal rounds like any value', 0x00018000, 0x0002],
    ['smallest float32 subnormal rounds to 0', 0x00000001, 0x0000],
    ['carry into the exponent', 0x3fffffff, 0x4000],
  ];
  it.each(cases)('%s', (_, f32, bits) => {
    expect(hex(f32BitsToBf16Bits(f32))).toBe(hex(bits));
    // The number path agrees with the bits path for non-NaN inputs.
    expect(hex(toBf16Bits(f32FromBits(f32)))).toBe(hex(bits));
  });

  it('NaN stays NaN even when its payload is only in the discarded low bits', () => {
    expect(hex(f32BitsToBf16Bits(0x7f800001))).toBe('0x7fc0');
    expect(hex(f32BitsToBf16Bits(0xff800001))).toBe('0xffc0');
    expect(hex(f32BitsToBf16Bits(0x7fc00000))).toBe('0x7fc0');
    expect(hex(f32BitsToBf16Bits(0x7fa50000))).toBe('0x7fe5');
    expect(isBf16NaN(toBf16Bits(NaN))).toBe(true);
  });

  it('float64 input rounds once', () => {
    // 1 + 2^-8 is a bf16 tie; the extra 2^-40 (lost in float32) breaks it upwards.
    expect(hex(toBf16Bits(1 + 2 ** -8 + 2 ** -40))).toBe('0x3f81');
    expect(hex(toBf16Bits(1 + 2 ** -8))).toBe('0x3f80');
  });
});

describe('widening is exact', () => {
  it('f16 patterns read as their values', () => {
    expect(f16BitsToNumber(0x3c00)).toBe(1);
    expect(f16BitsToNumber(0x7bff)).toBe(65504);
    expect(f16BitsToNumber(0x0001)).toBe(2 ** -24);
    expect(f16BitsToNumber(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToNumber(0x3555)).toBe(0.333251953125);
    expect(Object.is(f16BitsToNumber(0x8000), -0)).toBe(true);
    expect(f16BitsToNumber(0xfc00)).toBe(-Infinity);
    expect(f16BitsToNumber(0x7e00)).toBeNaN();
  });

  it('bf16 patterns read as their values', () => {
    expect(bf16BitsToNumber(0x3f80)).toBe(1);
    expect(bf16BitsToNumber(0xc040)).toBe(-3);
    expect(bf16BitsToNumber(0x7f7f)).toBe(f32FromBits(0x7f7f0000));
    expect(bf16BitsToNumber(0x7fc1)).toBeNaN();
  });

  it('f16 → float32 bits agrees with the value for all 65536 patterns, NaN payloads kept', () => {
    for (let b = 0; b < 0x10000; b++) {
      const w = f16BitsToF32Bits(b);
      if (isF16NaN(b)) {
        expect(w).toBe((((b & 0x8000) << 16) | 0x7f800000 | ((b & 0x3ff) << 13)) >>> 0);
      } else if (f32Bits(f16BitsToNumber(b)) !== w) {
        expect.fail(`f16 ${hex(b)}: float32 bits ${w.toString(16)} != ${f32Bits(f16BitsToNumber(b)).toString(16)}`);
      }
    }
  });

  it('bf16 → float32 bits is the top half', () => {
    expect(bf16BitsToF32Bits(0xffc1)).toBe(0xffc10000);
    expect(bf16BitsToF32Bits(0x3f80)).toBe(0x3f800000);
  });
});

describe('exhaustive round trips', () => {
  it('every f16 pattern survives bits → number → bits (NaNs map to a NaN)', () => {
    for (let b = 0; b < 0x10000; b++) {
      const back = toF16Bits(f16BitsToNumber(b));
      if (isF16NaN(b) ? !isF16NaN(back) : back !== b) expect.fail(`f16 ${hex(b)} came back as ${hex(back)}`);
    }
  });

  it('every f16 pattern survives bits → float32 bits → bits (quiet NaNs exactly)', () => {
    for (let b = 0; b < 0x10000; b++) {
      const back = f32BitsToF16Bits(f16BitsToF32Bits(b));
      const want = isF16NaN(b) ? b | 0x0200 : b;
      if (back !== want) expect.fail(`f16 ${hex(b)} came back as ${hex(back)}`);
    }
  });

  it('every bf16 pattern survives bits → number → bits (NaNs map to a NaN)', () => {
    for (let b = 0; b < 0x10000; b++) {
      const back = toBf16Bits(bf16BitsToNumber(b));
      if (isBf16NaN(b) ? !isBf16NaN(back) : back !== b) expect.fail(`bf16 ${hex(b)} came back as ${hex(back)}`);
      const viaBits = f32BitsToBf16Bits(bf16BitsToF32Bits(b));
      if (viaBits !== (isBf16NaN(b) ? b | 0x0040 : b)) expect.fail(`bf16 ${hex(b)} came back as ${hex(viaBits)} via float32 bits`);
    }
  });
});

/**
 * Reference f16 rounding. POSITIVE[i] is the value of pattern i for the finite patterns
 * 0..0x7bff, plus 2^16 at 0x7c00: with an unbounded exponent that would be the next value, and
 * IEEE overflow is exactly "rounds to it", so the infinity pattern stands in for it. Consecutive
 * patterns are consecutive values, so "even mantissa" is "even pattern".
 *
 * The float64 distances are sound: for |x| >= 2^-24 both neighbours lie within a factor of two
 * of x, so the subtractions are exact (Sterbenz); below that the lower neighbour is 0 (exact)
 * and a false tie is impossible because 2^-25 is representable.
 */
const POSITIVE: number[] = [];
for (let b = 0; b < 0x7c00; b++) POSITIVE.push(f16BitsToNumber(b));
POSITIVE.push(2 ** 16);

function referenceF16(x: number): number {
  if (Number.isNaN(x)) return -1;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 2 ** 16) return sign | 0x7c00;
  let lo = 0;
  let hi = POSITIVE.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (POSITIVE[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const below = a - POSITIVE[lo]!;
  const above = POSITIVE[hi]! - a;
  const pick = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}

/** Reference bf16 rounding of float32 bits: the well-known integer form of round-half-even. */
function referenceBf16(bits: number): number {
  return ((bits >>> 0) + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

const f16Midpoints = fc
  .tuple(fc.integer({ min: 0, max: 0x7bfe }), fc.boolean())
  .map(([b, negative]) => (negative ? -1 : 1) * ((f16BitsToNumber(b) + f16BitsToNumber(b + 1)) / 2));
const float32s = fc.oneof(
  fc.float(),
  fc.float({ min: -70000, max: 70000 }),
  fc.float({ min: -(2 ** -13), max: 2 ** -13 }),
  f16Midpoints.map(Math.fround),
  fc.integer({ min: 0, max: 0xffffffff }).map(f32FromBits),
);

describe('property: narrowing equals the reference', () => {
  it('float32 → f16', () => {
    fc.assert(
      fc.property(float32s, (x) => {
        const got = toF16Bits(x);
        if (Number.isNaN(x)) return isF16NaN(got);
        return got === referenceF16(x) && f32BitsToF16Bits(f32Bits(x)) === got;
      }),
      { seed: 42, numRuns: 20_000 },
    );
  });

  it('float64 → f16 (one rounding)', () => {
    const doubles = fc.oneof(
      fc.double(),
      fc.double({ min: -70000, max: 70000 }),
      fc.double({ min: -(2 ** -13), max: 2 ** -13 }),
      f16Midpoints,
      f16Midpoints.chain((m) => fc.integer({ min: -4, max: 4 }).map((k) => m + k * Math.abs(m) * 2 ** -50)),
    );
    fc.assert(
      fc.property(doubles, (x) => (Number.isNaN(x) ? isF16NaN(toF16Bits(x)) : toF16Bits(x) === referenceF16(x))),
      { seed: 42, numRuns: 20_000 },
    );
  });

  it('float32 → bf16', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        const got = f32BitsToBf16Bits(bits);
        const isNaN = (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;
        if (isNaN) return isBf16NaN(got) && (got & 0x8000) === (bits >>> 16 & 0x8000);
        return got === referenceBf16(bits) && toBf16Bits(f32FromBits(bits)) === got;
      }),
      { seed: 42, numRuns: 20_000 },
    );
  });
});
