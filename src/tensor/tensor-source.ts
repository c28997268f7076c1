/**
 * Where a save reads tensor bytes from: memory, a safetensors file, a TF.js import. A save reads
 * each chunk when it sends it (so a file streams through in constant memory) and may read a chunk
 * again if the commit finds it collected meanwhile, so `read` must be repeatable.
 */
import { TesseraError } from '../errors.ts';
import { byteLength, isDtype } from './dtype.ts';
import type { Dtype, Tensor } from './tensor.ts';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
}

export interface TensorSource {
  readonly tensors: readonly TensorSpec[];
  /** Bytes [offset, offset + length) of tensor `name`; always the same bytes for the same range. */
  read(name: string, offset: number, length: number): Promise<Uint8Array>;
}

/** Tensors given as a Map, a record, or name/tensor pairs. */
export type TensorsInput = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>> | Iterable<readonly [string, Tensor]>;

export function memorySource(input: TensorsInput): TensorSource {
  if (typeof input !== 'object' || input === null) {
    throw new TesseraError('INVALID_ARGUMENT', `tensors must be a Map, an iterable of [name, tensor] pairs or an object, got ${input === null ? 'null' : typeof input}`);
  }
  const pairs: (readonly [string, Tensor])[] =
    input instanceof Map ? [...input.entries()] : Symbol.iterator in Object(input) ? [...(input as Iterable<readonly [string, Tensor]>)] : Object.entries(input as Record<string, Tensor>);
  const byName = new Map<string, Tensor>();
  for (const [name, t] of pairs) {
    if (byName.has(name)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(name)} is given twice`);
    if (typeof t !== 'object' || t === null) throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(name)} is not a tensor ({ dtype, shape, data })`);
    if (!isDtype(t.dtype)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${name}: unknown dtype ${String(t.dtype)}`);
    const want = byteLength(t.dtype, t.shape);
    if (!(t.data instanceof Uint8Array) || t.data.length !== want) {
      throw new TesseraError('INVALID_ARGUMENT', `tensor ${name}: ${t.data?.length} bytes for ${t.dtype}[${t.shape.join(', ')}], expected ${want}`);
    }
    byName.set(name, t);
  }
  return {
    tensors: [...byName].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    read: (name, offset, length) => Promise.resolve(byName.get(name)!.data.subarray(offset, offset + length)),
  };
}
