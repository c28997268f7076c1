/**
 * Dtypes: element sizes, shape arithmetic, and the bridge between a Tensor's little-endian
 * bytes and typed arrays.
 *
 * Bytes are always copied, never viewed: a Tensor's bytes may sit at any offset of any buffer
 * (a slice of a file read, a chunk from the store), and a Float32Array cannot be laid over an
 * odd offset. The copy is also where byte order is fixed: the host's order is checked once and a
 * big-endian host swaps each element, so the stored bytes are little-endian everywhere.
 *
 * Narrowing numbers into a dtype never wraps or truncates silently: an integer dtype rejects a
 * value that is not an integer in its range, BOOL rejects anything but 0 and 1 (or a boolean),
 * F32 rounds a float64 to nearest even (Math.fround), F16 and BF16 round as half.ts does.
 */
import { TesseraError } from '../errors.ts';
import { DTYPE_BYTES } from '../store/model-manifest.ts';
import {
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  toBf16Bits,
  toF16Bits,
} from './half.ts';
import type { Dtype, Tensor } from './tensor.ts';

/** One table for the store (which checks manifests) and the tensor layer. */
const BYTES_PER_ELEMENT: Readonly<Record<Dtype, number>> = DTYPE_BYTES;

/** Every dtype, in the order safetensors' documentation lists them. */
export const DTYPES: readonly Dtype[] = Object.freeze(Object.keys(BYTES_PER_ELEMENT) as Dtype[]);

/** The largest element size of any dtype: the alignment the file formats aim for. */
export const MAX_BYTES_PER_ELEMENT = 8;

/** The typed array each dtype reads into (F16 and BF16 widen exactly to float32). */
export interface DtypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Float32Array;
  BF16: Float32Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}

export type DtypeArray = DtypeArrays[Dtype];

/** What `fromTypedArray` accepts: any typed array, or a plain array of numbers, bigints or booleans (checked per element). */
export type NumericArrayLike = ArrayLike<number | bigint | boolean>;

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(BYTES_PER_ELEMENT, s);
}

export function bytesPerElement(dtype: Dtype): number {
  if (!isDtype(dtype)) throw new TesseraError('INVALID_ARGUMENT', `unknown dtype ${JSON.stringify(dtype)}`);
  return BYTES_PER_ELEMENT[dtype];
}

/**
 * Number of elements of a shape: 1 for a scalar ([]), 0 if any dimension is 0. Every dimension
 * and the product must be non-negative safe integers, so the count is exact.
 */
export function elementCount(shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw new TesseraError('INVALID_ARGUMENT', 'shape must be an array');
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new TesseraError('INVALID_ARGUMENT', `shape [${shape.join(', ')}] has a dimension that is not a non-negative safe integer`);
    }
    count *= d;
  }
  // Checked after the loop: a 0 anywhere makes an oversized prefix harmless.
  if (!Number.isSafeInteger(count)) throw new TesseraError('INVALID_ARGUMENT', `shape [${shape.join(', ')}] has more than 2^53 - 1 elements`);
  return count;
}

export function byteLength(dtype: Dtype, shape: readonly number[]): number {
  const bytes = elementCount(shape) * bytesPerElement(dtype);
  if (!Number.isSafeInteger(bytes)) throw new TesseraError('INVALID_ARGUMENT', `a ${dtype} tensor of shape [${shape.join(', ')}] exceeds 2^53 - 1 bytes`);
  return bytes;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A copy of `src` with each `elementBytes`-wide element converted between host and little-endian order. */
function copyLittleEndian(src: Uint8Array, elementBytes: number): Uint8Array {
  const out = new Uint8Array(src.length);
  out.set(src);
  if (!HOST_IS_LITTLE_ENDIAN && elementBytes > 1) {
    for (let at = 0; at < out.length; at += elementBytes) out.subarray(at, at + elementBytes).reverse();
  }
  return out;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * The tensor's elements as a fresh typed array (never a view of `tensor.data`). BOOL reads any
 * non-zero byte as 1.
 */
export function toTypedArray<D extends Dtype>(tensor: { readonly dtype: D; readonly shape: readonly number[]; readonly data: Uint8Array }): DtypeArrays[D];
export function toTypedArray(tensor: Tensor): DtypeArray {
  const { dtype, data } = tensor;
  const expected = byteLength(dtype, tensor.shape);
  if (!(data instanceof Uint8Array) || data.length !== expected) {
    throw new TesseraError('INVALID_ARGUMENT', `a ${dtype} tensor of shape [${tensor.shape.join(', ')}] needs ${expected} bytes, got ${data.length}`);
  }
  const count = expected / BYTES_PER_ELEMENT[dtype];
  const native = (elementBytes: number) => copyLittleEndian(data, elementBytes).buffer;
  switch (dtype) {
    case 'F64':
      return new Float64Array(native(8));
    case 'F32':
      return new Float32Array(native(4));
    case 'F16':
    case 'BF16': {
      const halves = new Uint16Array(native(2));
      const out = new Float32Array(count);
      // Written as bits so NaN payloads survive (a number round trip may canonicalize them).
      const outBits = new Uint32Array(out.buffer);
      const widen = dtype === 'F16' ? f16BitsToF32Bits : bf16BitsToF32Bits;
      for (let i = 0; i < count; i++) outBits[i] = widen(halves[i]!);
      return out;
    }
    case 'I64':
      return new BigInt64Array(native(8));
    case 'U64':
      return new BigUint64Array(native(8));
    case 'I32':
      return new Int32Array(native(4));
    case 'U32':
      return new Uint32Array(native(4));
    case 'I16':
      return new Int16Array(native(2));
    case 'U16':
      return new Uint16Array(native(2));
    case 'I8':
      return new Int8Array(native(1));
    case 'U8':
      return new Uint8Array(native(1));
    case 'BOOL':
      return Uint8Array.from(data, (b) => (b === 0 ? 0 : 1));
  }
}

interface IntegerRange {
  readonly min: number;
  readonly max: number;
}

const INTEGER_RANGES: Partial<Record<Dtype, IntegerRange>> = {
  I32: { min: -(2 ** 31), max: 2 ** 31 - 1 },
  I16: { min: -(2 ** 15), max: 2 ** 15 - 1 },
  I8: { min: -(2 ** 7), max: 2 ** 7 - 1 },
  U32: { min: 0, max: 2 ** 32 - 1 },
  U16: { min: 0, max: 2 ** 16 - 1 },
  U8: { min: 0, max: 2 ** 8 - 1 },
};

function invalidElement(dtype: Dtype, index: number, value: unknown): TesseraError {
  const shown = typeof value === 'bigint' ? `${value}n` : String(value);
  return new TesseraError('INVALID_ARGUMENT', `element ${index} (${shown}) is not a valid ${dtype} value`);
}

function numberAt(dtype: Dtype, array: NumericArrayLike, i: number): number {
  const v: unknown = array[i];
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean' && dtype === 'BOOL') return v ? 1 : 0;
  throw invalidElement(dtype, i, v);
}

function bigintAt(dtype: 'I64' | 'U64', array: NumericArrayLike, i: number): bigint {
  const v: unknown = array[i];
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  throw invalidElement(dtype, i, v);
}

/** Float32 bits of element i, exact for a Float32Array (NaN payloads included). */
function float32BitsSource(array: NumericArrayLike): ((i: number) => number) | null {
  if (!(array instanceof Float32Array)) return null;
  const bits = new Uint32Array(array.buffer, array.byteOffset, array.length);
  return (i) => bits[i]!;
}

/**
 * A tensor holding `array`'s elements in `dtype`, row-major in `shape`. The array's length must
 * be the shape's element count. A typed array of the dtype's own kind is copied byte for byte;
 * anything else is converted element by element and rejected (INVALID_ARGUMENT) rather than
 * wrapped if a value does not fit.
 */
export function fromTypedArray(dtype: Dtype, shape: readonly number[], array: NumericArrayLike): Tensor {
  const count = elementCount(shape);
  const size = bytesPerElement(dtype);
  const length: unknown = (array as { length?: unknown } | null)?.length;
  if (length !== count) {
    throw new TesseraError('INVALID_ARGUMENT', `shape [${shape.join(', ')}] holds ${count} elements, the array has ${String(length)}`);
  }
  const frozenShape = Object.freeze([...shape]);
  const sameKind =
    (dtype === 'F64' && array instanceof Float64Array) ||
    (dtype === 'F32' && array instanceof Float32Array) ||
    (dtype === 'I64' && array instanceof BigInt64Array) ||
    (dtype === 'U64' && array instanceof BigUint64Array) ||
    (dtype === 'I32' && array instanceof Int32Array) ||
    (dtype === 'U32' && array instanceof Uint32Array) ||
    (dtype === 'I16' && array instanceof Int16Array) ||
    (dtype === 'U16' && array instanceof Uint16Array) ||
    (dtype === 'I8' && array instanceof Int8Array) ||
    (dtype === 'U8' && array instanceof Uint8Array);
  if (sameKind) return { dtype, shape: frozenShape, data: copyLittleEndian(bytesOf(array as ArrayBufferView), size) };

  const data = new Uint8Array(count * size);
  const out = new DataView(data.buffer);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < count; i++) out.setFloat64(i * 8, numberAt(dtype, array, i), true);
      break;
    case 'F32':
      for (let i = 0; i < count; i++) out.setFloat32(i * 4, numberAt(dtype, array, i), true);
      break;
    case 'F16':
    case 'BF16': {
      const fromBits = float32BitsSource(array);
      const narrowBits = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
      const narrowNumber = dtype === 'F16' ? toF16Bits : toBf16Bits;
      for (let i = 0; i < count; i++) {
        out.setUint16(i * 2, fromBits ? narrowBits(fromBits(i)) : narrowNumber(numberAt(dtype, array, i)), true);
      }
      break;
    }
    case 'I64':
    case 'U64': {
      const [min, max] = dtype === 'I64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      for (let i = 0; i < count; i++) {
        const v = bigintAt(dtype, array, i);
        if (v < min || v > max) throw invalidElement(dtype, i, v);
        if (dtype === 'I64') out.setBigInt64(i * 8, v, true);
        else out.setBigUint64(i * 8, v, true);
      }
      break;
    }
    case 'BOOL':
      for (let i = 0; i < count; i++) {
        const v = numberAt(dtype, array, i);
        if (v !== 0 && v !== 1) throw invalidElement(dtype, i, v);
        data[i] = v;
      }
      break;
    default: {
      const range = INTEGER_RANGES[dtype]!;
      for (let i = 0; i < count; i++) {
        const v = numberAt(dtype, array, i);
        if (!Number.isInteger(v) || v < range.min || v > range.max) throw invalidElement(dtype, i, v);
        // Two's complement: the low bytes of a value in range are its encoding in either signedness.
        if (size === 4) out.setUint32(i * 4, v >>> 0, true);
        else if (size === 2) out.setUint16(i * 2, v & 0xffff, true);
        else data[i] = v & 0xff;
      }
    }
  }
  return { dtype, shape: frozenShape, data };
}
