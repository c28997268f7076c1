/**
 * How TF.js weight dtypes map onto Tessera tensors and how many bytes each element takes in a shard.
 * Only the numeric dtypes a weights file can hold as plain little-endian arrays are supported;
 * `string` (length-prefixed, variable size) and `complex64` are refused by the manifest parser.
 */
import type { Dtype } from './tensor.ts';

export const TFJS_DTYPES = ['float32', 'int32', 'bool'] as const;
export type TfjsDtype = (typeof TFJS_DTYPES)[number];

export const TFJS_QUANTIZATION_DTYPES = ['uint8', 'uint16', 'float16'] as const;
export type TfjsQuantizationDtype = (typeof TFJS_QUANTIZATION_DTYPES)[number];

/** Dtypes TF.js knows but Tessera cannot import, so the error says "unsupported", not "unknown". */
export const TFJS_UNSUPPORTED_DTYPES: readonly string[] = ['string', 'complex64'];

export const TFJS_DTYPE_BYTES: Readonly<Record<TfjsDtype, number>> = { float32: 4, int32: 4, bool: 1 };

export const TFJS_QUANTIZATION_BYTES: Readonly<Record<TfjsQuantizationDtype, number>> = {
  uint8: 1,
  uint16: 2,
  float16: 2,
};

export const TFJS_TO_DTYPE: Readonly<Record<TfjsDtype, Dtype>> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

/** The inverse of TFJS_TO_DTYPE: the Tessera dtypes the exporter can write. */
export function tfjsDtypeOf(dtype: Dtype): TfjsDtype | undefined {
  switch (dtype) {
    case 'F32':
      return 'float32';
    case 'I32':
      return 'int32';
    case 'BOOL':
      return 'bool';
    default:
      return undefined;
  }
}

export function isTfjsDtype(s: string): s is TfjsDtype {
  return (TFJS_DTYPES as readonly string[]).includes(s);
}

export function isTfjsQuantizationDtype(s: string): s is TfjsQuantizationDtype {
  return (TFJS_QUANTIZATION_DTYPES as readonly string[]).includes(s);
}
