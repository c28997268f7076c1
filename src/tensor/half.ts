/**
 * IEEE binary16 (f16) and bfloat16 (bf16) bit conversions.
 *
 * Narrowing rounds the exact value of the input to the nearest representable value, ties to
 * even, in one step. Rounding a float64 straight to f16 matters: going through float32 first
 * rounds twice and can land one ulp off. Because every float32 is exactly a float64, the same
 * functions serve float32 inputs. Overflow gives infinity (the IEEE rule: a value that would
 * round to 2^(emax+1) with an unbounded exponent is infinite), values below half the smallest
 * subnormal give a signed zero, and NaN stays a quiet NaN with its sign and the top bits of its
 * payload. Widening is exact; the `...ToF32Bits` forms keep NaN sign and payload bit for bit,
 * which a JS number cannot promise.
 */

interface HalfFormat {
  /** Stored mantissa bits. */
  readonly mantissaBits: number;
  /** Exponent bias. */
  readonly bias: number;
  /** Bits of the all-ones exponent field (infinity), already shifted into place. */
  readonly infinityBits: number;
}

const F16: HalfFormat = { mantissaBits: 10, bias: 15, infinityBits: 0x7c00 };
const BF16: HalfFormat = { mantissaBits: 7, bias: 127, infinityBits: 0x7f80 };

// One scratch buffer to read a number's bits; conversions are synchronous, so sharing is safe.
const scratch = new DataView(new ArrayBuffer(8));

/** 2^e for any integer e in the float64 range, exactly (Math.pow is not guaranteed exact). */
function pow2(e: number): number {
  // Split so neither factor leaves the normal range; each factor is exact.
  if (e > 1023) return pow2(e - 1023) * 2 ** 1023;
  if (e < -1022) return pow2(e + 1022) * 2 ** -1022;
  scratch.setUint32(0, ((e + 1023) << 20) >>> 0);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

/**
 * Rounds a float64, given by its two 32-bit words (hi holds sign, exponent and the top 20
 * mantissa bits), to a 16-bit format.
 */
function narrow(hi: number, lo: number, f: HalfFormat): number {
  const sign = (hi >>> 16) & 0x8000;
  const exponentField = (hi >>> 20) & 0x7ff;
  const mantissaHi = hi & 0xfffff;
  if (exponentField === 0x7ff) {
    if (mantissaHi === 0 && lo === 0) return sign | f.infinityBits;
    // Quiet bit set (so the result is a NaN whatever the payload), then the payload's top bits.
    const quiet = 1 << (f.mantissaBits - 1);
    const payload = (mantissaHi >>> (20 - f.mantissaBits)) & (quiet - 1);
    return sign | f.infinityBits | quiet | payload;
  }
  // float64 subnormals are far below half of either format's smallest subnormal.
  if (exponentField === 0) return sign;
  const exponent = exponentField - 1023;
  const minNormalExponent = 1 - f.bias;
  // Anything at or above 2^(emax+1) is infinite in any case; stop before the scaling below overflows.
  if (exponent > f.bias) return sign | f.infinityBits;
  // The target's ulp at this magnitude: below the normal range every value shares the subnormal ulp.
  const ulpExponent = Math.max(exponent, minNormalExponent) - f.mantissaBits;
  scratch.setUint32(0, hi & 0x7fffffff);
  scratch.setUint32(4, lo);
  const magnitude = scratch.getFloat64(0);
  // Dividing by a power of two is exact here (the quotient stays normal), and so is taking the
  // fraction of a float64 below 2^53: the tie test is on exact values.
  const q = magnitude / pow2(ulpExponent);
  let n = Math.floor(q);
  const fraction = q - n;
  if (fraction > 0.5 || (fraction === 0.5 && n % 2 === 1)) n += 1;
  // For subnormals the count of ulps is the bit pattern. For normals, exponent bits plus the
  // count (which includes the implicit leading one) give the pattern, and a count that carried
  // to 2^(mantissaBits+1) moves into the next binade by itself, up to infinity.
  const bits = exponent < minNormalExponent ? n : ((exponent + f.bias - 1) << f.mantissaBits) + n;
  return sign | Math.min(bits, f.infinityBits);
}

function narrowNumber(x: number, f: HalfFormat): number {
  scratch.setFloat64(0, x);
  return narrow(scratch.getUint32(0), scratch.getUint32(4), f);
}

/** float32 bits → float64 words, exactly; NaN payloads move along bit for bit. */
function narrowFloat32Bits(bits: number, f: HalfFormat): number {
  const sign = bits >>> 31;
  const exponentField = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponentField === 0xff) {
    return narrow(((sign << 31) | (0x7ff << 20) | (mantissa >>> 3)) >>> 0, (mantissa << 29) >>> 0, f);
  }
  scratch.setUint32(0, bits >>> 0);
  return narrowNumber(scratch.getFloat32(0), f);
}

/** Nearest f16 bit pattern to `x` (a float32 or float64 value), ties to even. */
export function toF16Bits(x: number): number {
  return narrowNumber(x, F16);
}

/** Nearest bf16 bit pattern to `x` (a float32 or float64 value), ties to even. */
export function toBf16Bits(x: number): number {
  return narrowNumber(x, BF16);
}

/** f16 bits from float32 bits; unlike `toF16Bits`, sees the NaN sign and payload the engine may not keep. */
export function f32BitsToF16Bits(bits: number): number {
  return narrowFloat32Bits(bits, F16);
}

/** bf16 bits from float32 bits, ties to even on the 16 discarded bits; NaN sign and payload kept. */
export function f32BitsToBf16Bits(bits: number): number {
  return narrowFloat32Bits(bits, BF16);
}

/** The exact value of an f16 bit pattern (every NaN reads as NaN). */
export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponentField = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponentField === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponentField === 0) return sign * mantissa * 2 ** -24;
  return sign * (0x400 + mantissa) * pow2(exponentField - 25);
}

/** The exact value of a bf16 bit pattern: bf16 is the top half of a float32. */
export function bf16BitsToNumber(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

/** float32 bits of an f16 pattern (exact; NaN sign and payload kept in the top mantissa bits). */
export function f16BitsToF32Bits(bits: number): number {
  const sign = (bits & 0x8000) << 16;
  const exponentField = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponentField === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponentField !== 0) return (sign | ((exponentField + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal f16 is a normal float32: shift the leading one into the implicit position.
  let m = mantissa;
  let e = 113;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e -= 1;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** float32 bits of a bf16 pattern (exact). */
export function bf16BitsToF32Bits(bits: number): number {
  return ((bits & 0xffff) << 16) >>> 0;
}
