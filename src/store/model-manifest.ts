/**
 * The manifest of a model version: its tensors (dtype, shape, and the content addresses of the
 * chunks that hold their bytes) and string metadata. The state machine reads manifests (to check
 * and count chunk references), so the encoding lives here, below the tensor layer, and is
 * hand-written: a manifest always encodes to the same bytes on every replica.
 */
import { TesseraError } from '../errors.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { isWellFormed, utf8 } from '../util/bytes.ts';
import {
  CHUNK_HASH_BYTES,
  MAX_CHUNK_BYTES,
  MAX_METADATA_ENTRIES,
  MAX_METADATA_VALUE_BYTES,
  MAX_TENSOR_NAME_BYTES,
  MAX_TENSOR_RANK,
  MAX_TENSORS_PER_VERSION,
} from './model-limits.ts';

/** Bytes per element of each dtype, by its safetensors name (in the order safetensors lists them). */
export const DTYPE_BYTES = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const);
export type ManifestDtype = keyof typeof DTYPE_BYTES;
const DTYPES = Object.keys(DTYPE_BYTES) as ManifestDtype[];

export function isManifestDtype(s: string): s is ManifestDtype {
  return Object.hasOwn(DTYPE_BYTES, s);
}

export interface ManifestTensor {
  readonly name: string;
  readonly dtype: ManifestDtype;
  readonly shape: readonly number[];
  /** Bytes of every chunk but the last (which holds the rest); a multiple of the element size. */
  readonly chunkBytes: number;
  /** SHA-256 of each chunk, in order; ceil(byteLength / chunkBytes) of them. */
  readonly chunks: readonly Uint8Array[];
}

export interface ModelManifest {
  readonly tensors: readonly ManifestTensor[];
  /** Sorted by key, so equal metadata encodes equally. */
  readonly metadata: readonly (readonly [string, string])[];
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new TesseraError('INVALID_ARGUMENT', `bad dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new TesseraError('INVALID_ARGUMENT', `shape [${shape.join(', ')}] has too many elements`);
  }
  return n;
}

export function tensorByteLength(t: { readonly dtype: ManifestDtype; readonly shape: readonly number[] }): number {
  return elementCount(t.shape) * DTYPE_BYTES[t.dtype];
}

/** Bytes of chunk `i` of a tensor of `byteLength` bytes cut at `chunkBytes`. */
export function chunkLength(byteLength: number, chunkBytes: number, i: number): number {
  return Math.min(chunkBytes, byteLength - i * chunkBytes);
}

export function chunkCount(byteLength: number, chunkBytes: number): number {
  return Math.ceil(byteLength / chunkBytes);
}

/**
 * What a manifest says about its tensors and metadata, apart from chunks: known before a single
 * chunk is written, so a save checks it first and a bad name or shape uploads nothing.
 */
export function validateManifestLayout(
  tensors: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly number[] }[],
  metadata: ModelManifest['metadata'],
): void {
  if (tensors.length > MAX_TENSORS_PER_VERSION) {
    throw new TesseraError('INVALID_ARGUMENT', `${tensors.length} tensors, limit ${MAX_TENSORS_PER_VERSION}`);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    validateTensorName(t.name);
    if (names.has(t.name)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(t.name)} appears twice`);
    names.add(t.name);
    if (!isManifestDtype(t.dtype)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${t.name}: unknown dtype ${String(t.dtype)}`);
    if (t.shape.length > MAX_TENSOR_RANK) throw new TesseraError('INVALID_ARGUMENT', `tensor ${t.name}: rank ${t.shape.length}, limit ${MAX_TENSOR_RANK}`);
    elementCount(t.shape);
  }
  if (metadata.length > MAX_METADATA_ENTRIES) throw new TesseraError('INVALID_ARGUMENT', `${metadata.length} metadata entries, limit ${MAX_METADATA_ENTRIES}`);
  for (let i = 0; i < metadata.length; i++) {
    const [k, v] = metadata[i]!;
    if (typeof k !== 'string' || typeof v !== 'string') throw new TesseraError('INVALID_ARGUMENT', 'metadata keys and values must be strings');
    if (!isWellFormed(k) || !isWellFormed(v)) throw new TesseraError('INVALID_ARGUMENT', `metadata ${JSON.stringify(k)}: a lone surrogate, which UTF-8 cannot hold`);
    if (utf8(v).length > MAX_METADATA_VALUE_BYTES) throw new TesseraError('INVALID_ARGUMENT', `metadata ${k} is longer than ${MAX_METADATA_VALUE_BYTES} bytes`);
    if (i > 0 && !(metadata[i - 1]![0] < k)) throw new TesseraError('INVALID_ARGUMENT', 'metadata must be sorted by key without duplicates');
  }
}

export function validateManifest(m: ModelManifest): void {
  validateManifestLayout(m.tensors, m.metadata);
  for (const t of m.tensors) {
    const size = DTYPE_BYTES[t.dtype];
    if (!Number.isSafeInteger(t.chunkBytes) || t.chunkBytes < size || t.chunkBytes > MAX_CHUNK_BYTES || t.chunkBytes % size !== 0) {
      throw new TesseraError('INVALID_ARGUMENT', `tensor ${t.name}: chunk size ${t.chunkBytes} is not a multiple of ${size} in ${size}..${MAX_CHUNK_BYTES}`);
    }
    const want = chunkCount(tensorByteLength(t), t.chunkBytes);
    if (t.chunks.length !== want) throw new TesseraError('INVALID_ARGUMENT', `tensor ${t.name}: ${t.chunks.length} chunks, expected ${want}`);
    for (const h of t.chunks) validateChunkHash(h);
  }
}

export function validateChunkHash(h: Uint8Array): void {
  if (!(h instanceof Uint8Array) || h.length !== CHUNK_HASH_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `a chunk address is ${CHUNK_HASH_BYTES} bytes (SHA-256)`);
  }
}

function validateTensorName(name: string): void {
  if (typeof name !== 'string') throw new TesseraError('INVALID_ARGUMENT', `a tensor name must be a string, got ${typeof name}`);
  const n = utf8(name).length;
  if (n === 0 || n > MAX_TENSOR_NAME_BYTES || name.includes('\0') || !isWellFormed(name)) {
    throw new TesseraError('INVALID_ARGUMENT', `tensor name must be 1..${MAX_TENSOR_NAME_BYTES} UTF-8 bytes without NUL or a lone surrogate`);
  }
}

/** Metadata as the manifest keeps it: sorted entries of a string→string record. */
export function metadataEntries(meta: Readonly<Record<string, string>> | undefined): [string, string][] {
  if (meta === undefined) return [];
  if (typeof meta !== 'object' || meta === null) throw new TesseraError('INVALID_ARGUMENT', `metadata must be an object of strings, got ${meta === null ? 'null' : typeof meta}`);
  return Object.keys(meta)
    .sort()
    .map((k) => [k, meta[k]!]);
}

export function writeManifest(w: ByteWriter, m: ModelManifest): void {
  w.uvarint(m.tensors.length);
  for (const t of m.tensors) {
    w.string(t.name).u8(DTYPES.indexOf(t.dtype)).uvarint(t.shape.length);
    for (const d of t.shape) w.uvarint(d);
    w.uvarint(t.chunkBytes).uvarint(t.chunks.length);
    for (const h of t.chunks) w.raw(h);
  }
  w.uvarint(m.metadata.length);
  for (const [k, v] of m.metadata) w.string(k).string(v);
}

export function readManifest(r: ByteReader): ModelManifest {
  const tensors: ManifestTensor[] = [];
  const n = boundedCount(r);
  for (let i = 0; i < n; i++) {
    const name = r.string();
    const dtype = DTYPES[r.u8()] ?? r.fail('bad dtype');
    const shape: number[] = [];
    const rank = boundedCount(r);
    for (let d = 0; d < rank; d++) shape.push(r.uvarint());
    const chunkBytes = r.uvarint();
    const nChunks = r.uvarint();
    if (nChunks * CHUNK_HASH_BYTES > r.remaining) r.fail(`chunk count ${nChunks} exceeds remaining bytes`);
    const chunks: Uint8Array[] = [];
    for (let c = 0; c < nChunks; c++) chunks.push(r.fixed(CHUNK_HASH_BYTES));
    tensors.push({ name, dtype, shape, chunkBytes, chunks });
  }
  const metadata: [string, string][] = [];
  const nMeta = boundedCount(r);
  for (let i = 0; i < nMeta; i++) metadata.push([r.string(), r.string()]);
  return { tensors, metadata };
}

export function encodeManifest(m: ModelManifest): Uint8Array {
  validateManifest(m);
  const w = new ByteWriter(256);
  writeManifest(w, m);
  return w.finish();
}

export function decodeManifest(data: Uint8Array, what = 'model manifest'): ModelManifest {
  const r = new ByteReader(data, what, 'CORRUPTION');
  const m = readManifest(r);
  r.end();
  validateManifest(m);
  return m;
}

function boundedCount(r: ByteReader): number {
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`count ${n} exceeds remaining ${r.remaining} bytes`);
  return n;
}
