/**
 * The tensor as every part of the tensor layer sees it: a dtype, a shape and the raw
 * little-endian bytes (row-major, as in safetensors). Typed-array views are a convenience on
 * top (dtype.ts); the store, the chunker and the file formats move bytes, never numbers, so a
 * round trip is bit-exact for every dtype (NaN payloads and -0 included).
 */

/** The safetensors dtype names; the store uses the same spelling. */
export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export interface Tensor {
  readonly dtype: Dtype;
  /** Dimensions; [] is a scalar (one element), a 0 anywhere makes an empty tensor. */
  readonly shape: readonly number[];
  /** Exactly elementCount(shape) * bytesPerElement(dtype) bytes, little-endian. */
  readonly data: Uint8Array;
}

/** A named set of tensors in a stable order (the order a file or a manifest lists them). */
export type TensorMap = ReadonlyMap<string, Tensor>;
