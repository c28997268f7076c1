/**
 * Models in and out of files: safetensors (one file or a sharded checkpoint with
 * model.safetensors.index.json) and TensorFlow.js weights. Imports validate the whole file
 * before the first chunk is sent and stream it through in bounded pieces; a version appears
 * only with its commit, so a failed import leaves no visible trace (its sent chunks are
 * collectable by TensorStore.gc). Exports stream verified chunks into an atomically renamed file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { TesseraError } from '../errors.ts';
import { readSafetensorsIndex, SAFETENSORS_INDEX_FILE_NAME, writeShardedSafetensors } from './safetensors-index.ts';
import { openSafetensors, type SafetensorsHeader } from './safetensors-reader.ts';
import { writeSafetensors, type SafetensorsWriteEntry } from './safetensors-writer.ts';
import type { Tensor } from './tensor.ts';
import type { SaveOptions, SaveResult, TensorStore } from './tensor-store.ts';
import type { TensorSource, TensorSpec } from './tensor-source.ts';
import { importTfjs } from './tfjs-reader.ts';

export interface ExportOptions {
  readonly version?: number;
  /** Split into shards of at most this many data bytes, written into the directory `out`. */
  readonly maxShardBytes?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Imports a safetensors file, a sharded checkpoint (its index file, or the directory holding
 * it) as a new version. The file's __metadata__ becomes the version's metadata (options.metadata
 * entries win).
 */
export async function importSafetensors(store: TensorStore, model: string, file: string, options: SaveOptions = {}): Promise<SaveResult> {
  const files = await safetensorsFiles(file);
  const handles: FileHandle[] = [];
  try {
    const shards: { handle: FileHandle; header: SafetensorsHeader }[] = [];
    for (const f of files) {
      // openSafetensors validates the header against the file before anything is read.
      const reader = await openSafetensors(f);
      const header = reader.header;
      await reader.close();
      const handle = await open(f, 'r');
      handles.push(handle);
      shards.push({ handle, header });
    }
    const where = new Map<string, { handle: FileHandle; position: number; spec: TensorSpec }>();
    // No prototype: a file's "__proto__" key is then a key like any other, not a prototype change.
    const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const { handle, header } of shards) {
      Object.assign(metadata, header.metadata);
      for (const t of header.tensors) {
        if (where.has(t.name)) throw new TesseraError('INVALID_FORMAT', `${file}: tensor ${t.name} appears in two shards`);
        where.set(t.name, { handle, position: header.dataStart + t.begin, spec: { name: t.name, dtype: t.dtype, shape: t.shape } });
      }
    }
    const source: TensorSource = {
      tensors: [...where.values()].map((w) => w.spec),
      async read(name, offset, length) {
        const w = where.get(name)!;
        const out = new Uint8Array(length);
        const { bytesRead } = await w.handle.read(out, 0, length, w.position + offset);
        if (bytesRead !== length) throw new TesseraError('INVALID_FORMAT', `${file}: tensor ${name} is truncated (the file changed while importing?)`);
        return out;
      },
    };
    return await store.saveFrom(model, source, { ...options, metadata: { ...metadata, ...options.metadata } });
  } finally {
    await Promise.allSettled(handles.map((h) => h.close()));
  }
}

/**
 * Exports a version (the head by default) as one safetensors file at `out`, or with
 * maxShardBytes as shards plus model.safetensors.index.json in the directory `out`.
 */
export async function exportSafetensors(store: TensorStore, model: string, out: string, options: ExportOptions = {}): Promise<{ readonly version: number; readonly bytes: number; readonly files: readonly string[] }> {
  const v = await store.openVersion(model, options.version === undefined ? {} : { version: options.version });
  const total = v.tensors.reduce((n, t) => n + t.bytes, 0);
  let done = 0;
  const entries: SafetensorsWriteEntry[] = v.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    bytes: async function* () {
      for await (const chunk of v.chunks(t.name)) {
        yield chunk;
        done += chunk.length;
        options.onProgress?.(done, total);
      }
    },
  }));
  if (options.maxShardBytes === undefined) {
    await writeSafetensors(out, entries, v.metadata);
    return { version: v.version, bytes: total, files: [out] };
  }
  const { plan } = await writeShardedSafetensors(out, entries, { maxShardBytes: options.maxShardBytes, metadata: v.metadata });
  return { version: v.version, bytes: total, files: [...plan.map((p) => path.join(out, p.fileName)), path.join(out, SAFETENSORS_INDEX_FILE_NAME)] };
}

/**
 * Imports TensorFlow.js weights (a *-weights_manifest.json, or a model.json holding one),
 * dequantizing uint8/uint16/float16 weights to float32; the quantization of each weight is kept
 * in the version's metadata as `tfjs.quantization.<name>`. TF.js models are small, so the
 * dequantized tensors are held in memory while they are saved.
 */
export async function importTfjsWeights(store: TensorStore, model: string, manifestPath: string, options: SaveOptions = {}): Promise<SaveResult> {
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = { format: 'tfjs' };
  for await (const w of importTfjs(manifestPath)) {
    tensors.set(w.name, w.tensor);
    if (w.quantization) metadata[`tfjs.quantization.${w.name}`] = JSON.stringify(w.quantization);
  }
  return store.save(model, tensors, { ...options, metadata: { ...metadata, ...options.metadata } });
}

async function safetensorsFiles(file: string): Promise<string[]> {
  let indexPath: string | null = null;
  if ((await stat(file)).isDirectory()) indexPath = path.join(file, SAFETENSORS_INDEX_FILE_NAME);
  else if (file.endsWith('.index.json')) indexPath = file;
  if (indexPath === null) return [file];
  const { shards } = await readSafetensorsIndex(indexPath);
  return [...shards.keys()].map((name) => path.join(path.dirname(indexPath), name));
}
