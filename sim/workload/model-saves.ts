/**
 * What a simulated model save writes: a few small tensors cut into small chunks, each chunk's
 * bytes opening with a tag that names the save (and the chunk's place in it), then seeded bytes.
 * The tag is what lets a reader prove it saw one save whole: a chunk of another save carries
 * another tag, and because chunks are content-addressed, two saves never share a chunk.
 */
import { createHash } from 'node:crypto';
import { chunkLength, DTYPE_BYTES, encodeManifest, tensorByteLength, type ManifestDtype, type ManifestTensor, type ModelManifest } from '../../src/store/model-manifest.ts';
import { assert } from '../../src/util/assert.ts';
import { bytesEqual } from '../../src/util/bytes.ts';
import type { SeededRandom } from '../core/random.ts';

/** u32 save id, u32 writer pid, u16 tensor index, u16 chunk index (big-endian). */
export const TAG_BYTES = 12;
/** The manifest metadata key naming the save a version was written by. */
export const SAVE_META_KEY = 'save';

export interface SaveShape {
  readonly tensors: { readonly min: number; readonly max: number };
  readonly chunksPerTensor: { readonly min: number; readonly max: number };
  /** A multiple of 8 (every dtype used divides it), at least 16 (an F64 chunk holding the tag). */
  readonly chunkBytes: number;
}

export interface ChunkTag {
  readonly save: number;
  readonly pid: number;
  readonly tensor: number;
  readonly chunk: number;
}

export interface PlannedChunk {
  readonly hash: Uint8Array;
  readonly data: Uint8Array;
  readonly tensor: number;
  readonly chunk: number;
}

export interface SavePlan {
  readonly id: number;
  readonly pid: number;
  readonly model: string;
  /** In manifest order (tensor by tensor). */
  readonly chunks: readonly PlannedChunk[];
  readonly manifest: ModelManifest;
}

const DTYPES: readonly ManifestDtype[] = ['U8', 'F32', 'I16', 'F64'];

export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Builds save `id` of writer `pid`; all bytes come from `rng`, so a seed replays it exactly. */
export function planSave(rng: SeededRandom, id: number, pid: number, model: string, shape: SaveShape): SavePlan {
  assert(shape.chunkBytes % 8 === 0 && shape.chunkBytes >= 16, () => `chunkBytes must be a multiple of 8 and >= 16, got ${shape.chunkBytes}`);
  const chunks: PlannedChunk[] = [];
  const tensors: ManifestTensor[] = [];
  const nTensors = rng.range(shape.tensors.min, shape.tensors.max);
  for (let t = 0; t < nTensors; t++) {
    const dtype = rng.pick(DTYPES);
    const size = DTYPE_BYTES[dtype];
    const n = rng.range(shape.chunksPerTensor.min, shape.chunksPerTensor.max);
    // The last chunk is shorter, but never too short to hold the tag.
    const lastMin = Math.ceil(TAG_BYTES / size) * size;
    const last = lastMin + size * rng.nextInt((shape.chunkBytes - lastMin) / size + 1);
    const byteLength = (n - 1) * shape.chunkBytes + last;
    const hashes: Uint8Array[] = [];
    for (let c = 0; c < n; c++) {
      const data = chunkBytes(rng, { save: id, pid, tensor: t, chunk: c }, chunkLength(byteLength, shape.chunkBytes, c));
      const hash = sha256(data);
      hashes.push(hash);
      chunks.push({ hash, data, tensor: t, chunk: c });
    }
    tensors.push({ name: `t${t}`, dtype, shape: [byteLength / size], chunkBytes: shape.chunkBytes, chunks: hashes });
  }
  return { id, pid, model, chunks, manifest: { tensors, metadata: [[SAVE_META_KEY, String(id)]] } };
}

function chunkBytes(rng: SeededRandom, tag: ChunkTag, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  v.setUint32(0, tag.save);
  v.setUint32(4, tag.pid);
  v.setUint16(8, tag.tensor);
  v.setUint16(10, tag.chunk);
  for (let i = TAG_BYTES; i < length; i++) out[i] = rng.nextInt(256);
  return out;
}

export function decodeTag(data: Uint8Array): ChunkTag | null {
  if (data.length < TAG_BYTES) return null;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { save: v.getUint32(0), pid: v.getUint32(4), tensor: v.getUint16(8), chunk: v.getUint16(10) };
}

/** The save a manifest says it belongs to (its metadata), or null. */
export function manifestSave(m: ModelManifest): number | null {
  const entry = m.metadata.find(([k]) => k === SAVE_META_KEY);
  const id = entry === undefined ? NaN : Number(entry[1]);
  return Number.isSafeInteger(id) ? id : null;
}

export function sameManifest(a: ModelManifest, b: ModelManifest): boolean {
  return bytesEqual(encodeManifest(a), encodeManifest(b));
}

/** Bytes chunk `c` of tensor `t` must have. */
export function expectedChunkLength(t: ManifestTensor, c: number): number {
  return chunkLength(tensorByteLength(t), t.chunkBytes, c);
}
