/**
 * Models in the store: save a set of tensors as a new version, load a version (whole or some
 * tensors, from any replica), list, inspect and delete versions.
 *
 * A save sends each tensor as content-addressed chunks (SHA-256 of the bytes, at most
 * chunkBytes each, element-aligned) and then one commitVersion command that checks every chunk
 * is stored and moves the head. Until that command applies, no reader can see the new version;
 * after it, every chunk is there. A writer or leader dying mid-save leaves only unreferenced
 * chunks, which gc() collects. Chunks the previous version already holds are not sent again, and
 * a version's delete frees only chunks no other version names (reference counts in the store).
 */
import { createHash } from 'node:crypto';
import { TesseraError } from '../errors.ts';
import { refusal, timeoutOnly } from './answers.ts';
import { decodeHead, decodeStoredVersion, headKey, validateModelName, validateVersion, versionKey, versionPrefix, type StoredVersion } from '../store/model-keys.ts';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES } from '../store/model-limits.ts';
import { chunkCount, chunkLength, metadataEntries, tensorByteLength, validateManifestLayout, type ManifestTensor, type ModelManifest } from '../store/model-manifest.ts';
import { bytesEqual } from '../util/bytes.ts';
import { forEachConcurrent } from '../util/pool.ts';
import { bytesPerElement } from './dtype.ts';
import type { Dtype, Tensor } from './tensor.ts';
import type { TensorClient, TensorReadOptions } from './tensor-client.ts';
import { memorySource, type TensorSource, type TensorsInput } from './tensor-source.ts';

/** Chunk writes or reads in flight per save or load: enough to keep every replica busy. */
export const DEFAULT_TRANSFER_CONCURRENCY = 8;
/** Rounds of "commit, re-send what gc took meanwhile" before a save gives up. */
const MAX_COMMIT_ROUNDS = 3;

export interface SaveOptions {
  readonly metadata?: Readonly<Record<string, string>>;
  /** Commit only if the head is still this version (0: the model has none); CONFLICT otherwise. */
  readonly expectedHead?: number;
  readonly chunkBytes?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** Called as chunks are sent (bytes done, bytes total), e.g. for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SaveResult {
  readonly version: number;
  readonly revision: number;
  readonly bytes: number;
  readonly chunks: number;
  /** Chunks sent; the others were already stored (unchanged since the previous version). */
  readonly chunksWritten: number;
}

export interface LoadOptions extends TensorReadOptions {
  /** The head (newest visible version) if omitted. */
  readonly version?: number;
  /** Only these tensors (NOT_FOUND if one is missing); all if omitted. */
  readonly names?: readonly string[];
  /** Buffers to load into (exactly the tensor's byte length), by tensor name; others are allocated. */
  readonly into?: Readonly<Record<string, ArrayBufferView>>;
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface LoadedModel {
  readonly version: number;
  readonly tensors: Map<string, Tensor>;
  readonly metadata: Record<string, string>;
}

export interface VersionInfo {
  readonly version: number;
  readonly createdRevision: number;
  readonly tensors: number;
  readonly bytes: number;
  readonly metadata: Record<string, string>;
}

export interface ModelInfo {
  readonly model: string;
  /** 0 when no version is visible. */
  readonly head: number;
  readonly versions: readonly VersionInfo[];
  /** The head version's tensors. */
  readonly tensors: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly number[]; readonly bytes: number }[];
}

export interface ModelVersion {
  readonly version: number;
  readonly tensors: readonly { readonly name: string; readonly dtype: Dtype; readonly shape: readonly number[]; readonly bytes: number }[];
  readonly metadata: Record<string, string>;
  /** The tensor's bytes in order, one verified chunk at a time. */
  chunks(name: string): AsyncGenerator<Uint8Array, void, undefined>;
}

export class TensorStore {
  constructor(private readonly kv: TensorClient) {}

  /** Saves tensors given in memory as a new version. Bad input rejects, as every failure does. */
  async save(model: string, tensors: TensorsInput, options: SaveOptions = {}): Promise<SaveResult> {
    return this.saveFrom(model, memorySource(tensors), options);
  }

  /** Saves tensors read from `source` (a file importer, say) as a new version, streaming. */
  async saveFrom(model: string, source: TensorSource, options: SaveOptions = {}): Promise<SaveResult> {
    validateModelName(model);
    const chunkTarget = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isSafeInteger(chunkTarget) || chunkTarget < 8 || chunkTarget > MAX_CHUNK_BYTES) {
      throw new TesseraError('INVALID_ARGUMENT', `chunkBytes must be 8..${MAX_CHUNK_BYTES}, got ${chunkTarget}`);
    }
    const metadata = metadataEntries(options.metadata);
    // Everything but the chunks is known now: a bad name, shape or metadata uploads nothing.
    validateManifestLayout(source.tensors, metadata);
    if (options.expectedHead !== undefined && !(Number.isSafeInteger(options.expectedHead) && options.expectedHead >= 0)) {
      throw new TesseraError('INVALID_ARGUMENT', `expectedHead must be an integer >= 0 (0: no version yet), got ${String(options.expectedHead)}`);
    }
    const rw = timeoutOnly(options);
    // Chunks of the current head are stored and stay so while it exists: no need to send them.
    const head = await this.headVersion(model, { ...rw, consistency: 'linearizable' });
    if (options.expectedHead !== undefined && head !== options.expectedHead) {
      throw new TesseraError('CONFLICT', `model ${model}: head is version ${head}, not ${options.expectedHead}`);
    }
    const stored = new Set<string>();
    if (head > 0) {
      const prev = await this.version(model, head, { ...rw, consistency: 'local' }).catch(() => null);
      for (const t of prev?.manifest.tensors ?? []) for (const h of t.chunks) stored.add(hex(h));
    }
    const plan = source.tensors.map((spec) => {
      const bytes = tensorByteLength(spec);
      const size = bytesPerElement(spec.dtype);
      return { spec, bytes, chunkBytes: Math.max(size, chunkTarget - (chunkTarget % size)) };
    });
    const total = plan.reduce((n, p) => n + p.bytes, 0);
    const hashes = plan.map(() => [] as Uint8Array[]);
    const where = new Map<string, { tensor: number; chunk: number }>();
    let done = 0;
    let written = 0;
    const jobs = plan.flatMap((p, t) => Array.from({ length: chunkCount(p.bytes, p.chunkBytes) }, (_, c) => ({ t, c })));
    await forEachConcurrent(jobs, options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY, async ({ t, c }) => {
      const p = plan[t]!;
      const data = await source.read(p.spec.name, c * p.chunkBytes, chunkLength(p.bytes, p.chunkBytes, c));
      const hash = sha256(data);
      hashes[t]![c] = hash;
      const id = hex(hash);
      if (!where.has(id)) where.set(id, { tensor: t, chunk: c });
      if (!stored.has(id)) {
        stored.add(id);
        // Another model or version may hold the same bytes: a local probe of the (small)
        // reference record saves sending them. A stale answer costs at most a re-send when the
        // commit reports the chunk missing.
        const known = await this.kv.readTable('chunkRefs', hash, { ...rw, consistency: 'local' });
        if (known === null) {
          await this.putChunk(hash, data, rw);
          written++;
        }
      }
      done += data.length;
      options.onProgress?.(done, total);
    });
    const manifest: ModelManifest = {
      tensors: plan.map((p, t): ManifestTensor => ({ name: p.spec.name, dtype: p.spec.dtype, shape: p.spec.shape, chunkBytes: p.chunkBytes, chunks: hashes[t]! })),
      metadata,
    };
    for (let round = 1; ; round++) {
      const res = await this.kv.modelCommand({ op: 'commitVersion', model, expectedHead: options.expectedHead ?? null, manifest }, rw);
      if (res.ok) return { version: res.version!, revision: res.revision, bytes: total, chunks: jobs.length, chunksWritten: written };
      if (res.reason === 'head_moved') throw new TesseraError('CONFLICT', `model ${model}: head is version ${res.head}, not ${options.expectedHead}`);
      if (res.reason !== 'missing_chunks') throw refusal(`commit of model ${model}`, res);
      if (round === MAX_COMMIT_ROUNDS) throw new TesseraError('CONFLICT', `model ${model}: chunks keep disappearing before the commit (concurrent deletes or gc)`);
      // Chunks the previous head held were deleted with it, or gc took chunks sent long ago.
      await forEachConcurrent(res.missing, options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY, async (hash) => {
        const at = where.get(hex(hash));
        if (at === undefined) throw new TesseraError('INVARIANT', `model ${model}: the store misses a chunk the manifest does not name`);
        const p = plan[at.tensor]!;
        const data = await source.read(p.spec.name, at.chunk * p.chunkBytes, chunkLength(p.bytes, p.chunkBytes, at.chunk));
        if (!bytesEqual(sha256(data), hash)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${p.spec.name}: the source returned other bytes on a second read`);
        await this.putChunk(hash, data, rw);
        written++;
      });
    }
  }

  /**
   * Loads a version: its chunks are fetched in parallel (from any replica that has applied the
   * version's commit, `node` first), each checked against its SHA-256, into one buffer per tensor.
   */
  async load(model: string, options: LoadOptions = {}): Promise<LoadedModel> {
    validateModelName(model);
    const read: TensorReadOptions = { consistency: options.consistency ?? 'linearizable', ...pick(options) };
    if (options.version !== undefined) validateVersion(options.version);
    const version = options.version ?? (await this.headVersion(model, read));
    if (version === 0) throw new TesseraError('NOT_FOUND', `model ${model} has no version`);
    const stored = await this.version(model, version, read);
    const all = stored.manifest.tensors;
    const wanted = options.names === undefined ? all : options.names.map((n) => all.find((t) => t.name === n) ?? notFound(model, version, n));
    const out = new Map<string, Tensor>();
    const buffers = wanted.map((t) => {
      const data = target(t, options.into?.[t.name]);
      out.set(t.name, { dtype: t.dtype, shape: t.shape, data });
      return data;
    });
    const total = buffers.reduce((n, b) => n + b.length, 0);
    let done = 0;
    const jobs = wanted.flatMap((t, i) => t.chunks.map((hash, c) => ({ t, buf: buffers[i]!, hash, c })));
    const chunkRead = { ...pick(options), consistency: 'local' as const, minRevision: stored.createdRevision };
    await forEachConcurrent(jobs, options.concurrency ?? DEFAULT_TRANSFER_CONCURRENCY, async ({ t, buf, hash, c }) => {
      const data = await this.kv.readTable('chunks', hash, chunkRead);
      const want = chunkLength(buf.length, t.chunkBytes, c);
      if (data === null) {
        const still = await this.kv.get(versionKey(model, version), read);
        if (still === null) throw new TesseraError('NOT_FOUND', `model ${model} version ${version} was deleted while it was loading`);
        throw new TesseraError('CORRUPTION', `model ${model} version ${version}: tensor ${t.name} chunk ${c} is missing from the store`);
      }
      checkChunk(model, version, t.name, c, data, want, hash);
      buf.set(data, c * t.chunkBytes);
      done += data.length;
      options.onProgress?.(done, total);
    });
    return { version, tensors: out, metadata: Object.fromEntries(stored.manifest.metadata) };
  }

  /**
   * A version's manifest, and its tensors' bytes as a stream of checked chunks: how an export
   * writes a model of any size in constant memory.
   */
  async openVersion(model: string, options: TensorReadOptions & { readonly version?: number } = {}): Promise<ModelVersion> {
    validateModelName(model);
    const read: TensorReadOptions = { consistency: options.consistency ?? 'linearizable', ...pick(options) };
    if (options.version !== undefined) validateVersion(options.version);
    const version = options.version ?? (await this.headVersion(model, read));
    if (version === 0) throw new TesseraError('NOT_FOUND', `model ${model} has no version`);
    const stored = await this.version(model, version, read);
    const chunkRead = { ...pick(options), consistency: 'local' as const, minRevision: stored.createdRevision };
    const kv = this.kv;
    return {
      version,
      tensors: stored.manifest.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: tensorByteLength(t) })),
      metadata: Object.fromEntries(stored.manifest.metadata),
      async *chunks(name: string): AsyncGenerator<Uint8Array, void, undefined> {
        const t = stored.manifest.tensors.find((x) => x.name === name) ?? notFound(model, version, name);
        const bytes = tensorByteLength(t);
        for (let c = 0; c < t.chunks.length; c++) {
          const data = await kv.readTable('chunks', t.chunks[c]!, chunkRead);
          checkChunk(model, version, t.name, c, data, chunkLength(bytes, t.chunkBytes, c), t.chunks[c]!);
          yield data!;
        }
      },
    };
  }

  /** The versions of a model still stored, oldest first. */
  async versions(model: string, options: TensorReadOptions = {}): Promise<VersionInfo[]> {
    validateModelName(model);
    const out: VersionInfo[] = [];
    for await (const e of this.kv.range(versionPrefix(model), options)) out.push(versionInfo(decodeStoredVersion(e.value)));
    return out;
  }

  async info(model: string, options: TensorReadOptions = {}): Promise<ModelInfo> {
    const versions = await this.versions(model, options);
    const head = await this.headVersion(model, { ...options, consistency: 'local' });
    const headVersion = head === 0 ? null : await this.version(model, head, { ...options, consistency: 'local' });
    return {
      model,
      head,
      versions,
      tensors: (headVersion?.manifest.tensors ?? []).map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: tensorByteLength(t) })),
    };
  }

  /** Deletes a version; the head falls back to the newest remaining one. Returns the head after. */
  async deleteVersion(model: string, version: number, options: { readonly timeoutMs?: number } = {}): Promise<number> {
    validateModelName(model);
    validateVersion(version);
    const res = await this.kv.modelCommand({ op: 'deleteVersion', model, version }, timeoutOnly(options));
    if (res.ok) return res.version!;
    if (res.reason === 'not_found') throw new TesseraError('NOT_FOUND', `model ${model} has no version ${version}`);
    throw refusal(`delete of model ${model} version ${version}`, res);
  }

  /**
   * Deletes chunks no version names that were sent before revision `before` (default: now):
   * what saves that never committed left behind. A save in progress whose chunks are taken
   * re-sends them when its commit reports them missing.
   */
  async gc(options: { readonly before?: number; readonly timeoutMs?: number } = {}): Promise<number> {
    // Default: everything sent up to now, the current read point included.
    const before = options.before ?? (await this.kv.revision(timeoutOnly(options))) + 1;
    const res = await this.kv.modelCommand({ op: 'gcChunks', before }, timeoutOnly(options));
    if (!res.ok) throw refusal('chunk gc', res);
    return res.deleted ?? 0;
  }

  /** The head version number (0 if the model has none). */
  async headVersion(model: string, options: TensorReadOptions = {}): Promise<number> {
    validateModelName(model);
    const e = await this.kv.get(headKey(model), options);
    return e === null ? 0 : decodeHead(e.value).head;
  }

  private async version(model: string, version: number, options: TensorReadOptions): Promise<StoredVersion> {
    const e = await this.kv.get(versionKey(model, version), options);
    if (e === null) throw new TesseraError('NOT_FOUND', `model ${model} has no version ${version}`);
    return decodeStoredVersion(e.value);
  }

  private async putChunk(hash: Uint8Array, data: Uint8Array, options: { readonly timeoutMs?: number | undefined }): Promise<void> {
    const res = await this.kv.modelCommand({ op: 'chunkPut', hash, data }, timeoutOnly(options));
    if (!res.ok) throw refusal('chunk write', res);
  }
}

function checkChunk(model: string, version: number, tensor: string, c: number, data: Uint8Array | null, want: number, hash: Uint8Array): asserts data is Uint8Array {
  if (data === null) throw new TesseraError('NOT_FOUND', `model ${model} version ${version}: tensor ${tensor} chunk ${c} is gone (the version was deleted?)`);
  if (data.length !== want || !bytesEqual(sha256(data), hash)) {
    throw new TesseraError('CORRUPTION', `model ${model} version ${version}: tensor ${tensor} chunk ${c} does not match its checksum`);
  }
}

function versionInfo(v: StoredVersion): VersionInfo {
  return {
    version: v.version,
    createdRevision: v.createdRevision,
    tensors: v.manifest.tensors.length,
    bytes: v.manifest.tensors.reduce((n, t) => n + tensorByteLength(t), 0),
    metadata: Object.fromEntries(v.manifest.metadata),
  };
}

function target(t: ManifestTensor, given: ArrayBufferView | undefined): Uint8Array {
  const bytes = tensorByteLength(t);
  if (given === undefined) return new Uint8Array(new ArrayBuffer(bytes));
  if (given.byteLength !== bytes) throw new TesseraError('INVALID_ARGUMENT', `into.${t.name} is ${given.byteLength} bytes, the tensor ${bytes}`);
  return new Uint8Array(given.buffer, given.byteOffset, given.byteLength);
}


function pick(o: TensorReadOptions): TensorReadOptions {
  return { ...(o.node !== undefined && { node: o.node }), ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }) };
}

function notFound(model: string, version: number, name: string): never {
  throw new TesseraError('NOT_FOUND', `model ${model} version ${version} has no tensor ${JSON.stringify(name)}`);
}


function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
