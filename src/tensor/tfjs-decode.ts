/**
 * Turns one weight's shard bytes into the bytes of a Tessera tensor, undoing TF.js quantization the
 * way tfjs-core's `decodeWeights` does, so imported values equal what TF.js itself would load:
 * - uint8/uint16 → float32: Math.fround(q * scale + min), the product and sum in double precision;
 * - uint8/uint16 → int32: Math.round(q * scale + min);
 * - float16 → float32: exact, on bits, so NaN sign and payload survive.
 */
import { TesseraError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import { elementCount } from './dtype.ts';
import { f16BitsToF32Bits } from './half.ts';
import { TFJS_TO_DTYPE } from './tfjs-dtypes.ts';
import { outputByteLength, storedByteLength, type TfjsWeightSpec } from './tfjs-manifest.ts';
import type { Tensor } from './tensor.ts';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** `stored` must be exactly storedByteLength(spec) bytes; the result owns fresh memory. */
export function decodeTfjsWeight(spec: TfjsWeightSpec, stored: Uint8Array): Tensor {
  assert(stored.byteLength === storedByteLength(spec), () => `weight ${spec.name}: got ${stored.byteLength} stored bytes, expected ${storedByteLength(spec)}`);
  const dtype = TFJS_TO_DTYPE[spec.dtype];
  const q = spec.quantization;
  let data: Uint8Array;
  if (q === undefined) {
    data = spec.dtype === 'bool' ? normalizeBool(stored) : stored.slice();
  } else if (q.dtype === 'float16') {
    data = decodeFloat16(stored, elementCount(spec.shape));
  } else {
    data = dequantizeAffine(spec, stored, q.dtype === 'uint16' ? 2 : 1, q.scale, q.min);
  }
  return { dtype, shape: spec.shape, data };
}

/** TF.js reads any nonzero byte as true; Tessera's BOOL holds exactly 0 or 1. */
function normalizeBool(stored: Uint8Array): Uint8Array {
  const out = new Uint8Array(stored.length);
  for (let i = 0; i < stored.length; i++) out[i] = stored[i] === 0 ? 0 : 1;
  return out;
}

function dequantizeAffine(spec: TfjsWeightSpec, stored: Uint8Array, width: 1 | 2, scale: number, min: number): Uint8Array {
  const n = elementCount(spec.shape);
  const out = new Uint8Array(outputByteLength(spec));
  const src = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  const dst = new DataView(out.buffer);
  const isInt = spec.dtype === 'int32';
  for (let i = 0; i < n; i++) {
    const qv = width === 1 ? stored[i]! : src.getUint16(2 * i, true);
    const v = qv * scale + min;
    if (isInt) {
      const r = Math.round(v);
      if (r < INT32_MIN || r > INT32_MAX) {
        throw new TesseraError('INVALID_FORMAT', `weight ${spec.name}: element ${i} dequantizes to ${r}, outside int32`);
      }
      dst.setInt32(4 * i, r, true);
    } else {
      dst.setFloat32(4 * i, Math.fround(v), true);
    }
  }
  return out;
}

function decodeFloat16(stored: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(4 * n);
  const src = new DataView(stored.buffer, stored.byteOffset, stored.byteLength);
  const dst = new DataView(out.buffer);
  for (let i = 0; i < n; i++) dst.setUint32(4 * i, f16BitsToF32Bits(src.getUint16(2 * i, true)), true);
  return out;
}
