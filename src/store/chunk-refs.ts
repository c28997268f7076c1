/**
 * Reference counts of stored chunks (the `chunkRefs` table, keyed by the chunk's SHA-256): how
 * many committed version manifests name the chunk, its length, and the revision it was last
 * written at. A chunk with no references is either waiting for its version's commit or left by
 * a save that never committed; gcChunks removes the second kind by age.
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import type { KvBackend, KvReadView } from './kv-backend.ts';

export interface ChunkRef {
  readonly refs: number;
  readonly length: number;
  /** Revision of the last chunkPut of it while unreferenced: gc spares it until `before` passes this. */
  readonly since: number;
}

export function readChunkRef(view: KvReadView, hash: Uint8Array): ChunkRef | null {
  const raw = view.get('chunkRefs', hash);
  return raw === undefined ? null : decodeChunkRef(raw);
}

export function writeChunkRef(backend: KvBackend, hash: Uint8Array, ref: ChunkRef): void {
  backend.put('chunkRefs', hash, new ByteWriter(16).uvarint(ref.refs).uvarint(ref.length).uvarint(ref.since).finish());
}

export function decodeChunkRef(raw: Uint8Array): ChunkRef {
  const r = new ByteReader(raw, 'chunk reference', 'CORRUPTION');
  const ref = { refs: r.uvarint(), length: r.uvarint(), since: r.uvarint() };
  r.end();
  return ref;
}

/** Drops a chunk and its count together: they exist only as a pair. */
export function deleteChunk(backend: KvBackend, hash: Uint8Array): void {
  backend.delete('chunks', hash);
  backend.delete('chunkRefs', hash);
}
