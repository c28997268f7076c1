/**
 * Exports tensors as TensorFlow.js weights, unquantized, in one weight group:
 *
 *   <dir>/<baseName>-weights_manifest.json
 *   <dir>/<baseName>-group1-shard<i>of<n>.bin     (i = 1..n)
 *
 * The shard names follow the TF.js converter's `group1-shard1of2.bin`, prefixed with the base name so
 * several exports can share a directory. As in the converter, the group's bytes are cut every
 * `shardBytes` bytes regardless of weight boundaries; an export of zero bytes still writes one (empty)
 * shard, because a group must list at least one path.
 *
 * Publication is crash-safe: shards and manifest are staged as fsynced temp files; then an existing
 * manifest of the same base name is removed, the shards are renamed into place and the manifest is
 * renamed last, with a directory fsync between the steps. After a crash the directory holds the old
 * complete export, the new complete export, or no manifest for `baseName` — never a manifest whose
 * shards do not match it. Shards of an earlier export with a different shard count are left in place.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import { utf8 } from '../util/bytes.ts';
import type { Tensor } from './tensor.ts';
import { StagedFile, ensureDirectory, fsyncDirectory } from './tfjs-atomic.ts';
import { TFJS_DTYPE_BYTES, tfjsDtypeOf, type TfjsDtype } from './tfjs-dtypes.ts';
import { DEFAULT_TFJS_SHARD_BYTES, MAX_TFJS_GROUP_BYTES, MAX_TFJS_MANIFEST_BYTES, MAX_TFJS_SHARDS_PER_GROUP, MAX_TFJS_TENSOR_BYTES } from './tfjs-limits.ts';
import { parseTfjsManifest, type TfjsManifest, type TfjsWeightSpec } from './tfjs-manifest.ts';
import { shardPathProblem } from './tfjs-paths.ts';

export interface TfjsExportOptions {
  /** Shard size in bytes (default 4 MiB, as the TF.js converter); the last shard may be shorter. */
  readonly shardBytes?: number;
}

export interface TfjsExportResult {
  readonly manifestPath: string;
  readonly shardPaths: readonly string[];
  readonly manifest: TfjsManifest;
}

export function tfjsManifestFileName(baseName: string): string {
  return `${baseName}-weights_manifest.json`;
}

export function tfjsShardFileName(baseName: string, index: number, count: number): string {
  return `${baseName}-group1-shard${index + 1}of${count}.bin`;
}

/** Accepts a TensorMap or any iterable of [name, tensor]; order is kept as the manifest order. */
export async function exportTfjs(
  dir: string,
  baseName: string,
  tensors: Iterable<readonly [string, Tensor]>,
  options: TfjsExportOptions = {},
): Promise<TfjsExportResult> {
  const shardBytes = options.shardBytes ?? DEFAULT_TFJS_SHARD_BYTES;
  if (!Number.isSafeInteger(shardBytes) || shardBytes < 1 || shardBytes > MAX_TFJS_GROUP_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `shardBytes must be an integer in [1, ${MAX_TFJS_GROUP_BYTES}], got ${shardBytes}`);
  }
  checkBaseName(baseName);

  const entries = checkTensors(tensors);
  const total = entries.reduce((sum, e) => sum + e.tensor.data.byteLength, 0);
  if (total > MAX_TFJS_GROUP_BYTES) throw new TesseraError('INVALID_ARGUMENT', `tensors hold ${total} bytes, more than ${MAX_TFJS_GROUP_BYTES}`);
  const shardCount = Math.max(1, Math.ceil(total / shardBytes));
  if (shardCount > MAX_TFJS_SHARDS_PER_GROUP) {
    throw new TesseraError('INVALID_ARGUMENT', `${total} bytes in shards of ${shardBytes} would make ${shardCount} shards, more than ${MAX_TFJS_SHARDS_PER_GROUP}`);
  }

  const paths = Array.from({ length: shardCount }, (_, i) => tfjsShardFileName(baseName, i, shardCount));
  const weights: TfjsWeightSpec[] = entries.map((e) => ({ name: e.name, shape: [...e.tensor.shape], dtype: e.dtype }));
  const manifestJson = [{ paths, weights }];
  const manifestBytes = utf8(JSON.stringify(manifestJson, null, 2) + '\n');
  if (manifestBytes.byteLength > MAX_TFJS_MANIFEST_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `manifest would be ${manifestBytes.byteLength} bytes, more than ${MAX_TFJS_MANIFEST_BYTES}`);
  }
  const manifestName = tfjsManifestFileName(baseName);
  // The exporter must never write what the importer would refuse.
  const manifest = parseTfjsManifest(manifestJson, manifestName);

  await ensureDirectory(dir);
  const staged: StagedFile[] = [];
  try {
    await writeShards(dir, paths, shardBytes, entries, staged);
    const manifestFile = await StagedFile.create(dir, manifestName);
    staged.push(manifestFile);
    await manifestFile.write(manifestBytes);
    await manifestFile.seal();
    await publish(dir, staged);
  } catch (e) {
    await Promise.all(staged.map((s) => s.discard()));
    throw e;
  }
  return { manifestPath: path.join(dir, manifestName), shardPaths: paths.map((p) => path.join(dir, p)), manifest };
}

function checkBaseName(baseName: string): void {
  if (typeof baseName !== 'string' || baseName.length === 0 || baseName === '.' || baseName === '..' || baseName.includes('/')) {
    throw new TesseraError('INVALID_ARGUMENT', `baseName must be a plain file name prefix, got ${JSON.stringify(baseName)}`);
  }
  const problem = shardPathProblem(baseName);
  if (problem !== undefined) throw new TesseraError('INVALID_ARGUMENT', `baseName ${JSON.stringify(baseName)} ${problem}`);
}

interface ExportEntry {
  readonly name: string;
  readonly tensor: Tensor;
  readonly dtype: TfjsDtype;
}

function checkTensors(tensors: Iterable<readonly [string, Tensor]>): ExportEntry[] {
  const seen = new Set<string>();
  const out: ExportEntry[] = [];
  for (const [name, t] of tensors) {
    if (typeof name !== 'string' || name.length === 0) invalid(name, 'name must be a non-empty string');
    if (seen.has(name)) invalid(name, 'duplicate name');
    seen.add(name);
    const dtype = tfjsDtypeOf(t.dtype);
    if (dtype === undefined) invalid(name, `dtype ${t.dtype} cannot be exported to TF.js (only F32, I32, BOOL)`);
    const expected = checkedElementCount(name, t.shape, dtype) * TFJS_DTYPE_BYTES[dtype];
    if (t.data.byteLength !== expected) invalid(name, `data holds ${t.data.byteLength} bytes, shape and dtype need ${expected}`);
    // TF.js would read any nonzero byte as true; refusing other values keeps the round trip bit-exact.
    if (dtype === 'bool' && t.data.some((b) => b > 1)) invalid(name, 'BOOL data must be 0 or 1');
    out.push({ name, tensor: t, dtype });
  }
  return out;
}

function checkedElementCount(name: string, shape: readonly number[], dtype: TfjsDtype): number {
  const maxElements = Math.floor(MAX_TFJS_TENSOR_BYTES / TFJS_DTYPE_BYTES[dtype]);
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) invalid(name, `shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
    count *= d;
    // Once the count is 0 it stays 0; otherwise bounding it each step keeps it exact.
    if (count > maxElements) invalid(name, `more than ${MAX_TFJS_TENSOR_BYTES} bytes`);
  }
  return count;
}

function invalid(name: unknown, message: string): never {
  throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(name)}: ${message}`);
}

/** Streams the tensors' bytes into shards of exactly shardBytes (the last one shorter). */
async function writeShards(
  dir: string,
  paths: readonly string[],
  shardBytes: number,
  entries: readonly ExportEntry[],
  staged: StagedFile[],
): Promise<void> {
  let shard = await StagedFile.create(dir, paths[0]!);
  staged.push(shard);
  let room = shardBytes;
  for (const { tensor: t } of entries) {
    let at = 0;
    while (at < t.data.byteLength) {
      if (room === 0) {
        await shard.seal();
        shard = await StagedFile.create(dir, paths[staged.length]!);
        staged.push(shard);
        room = shardBytes;
      }
      const n = Math.min(room, t.data.byteLength - at);
      await shard.write(t.data.subarray(at, at + n));
      at += n;
      room -= n;
    }
  }
  await shard.seal();
  assert(staged.length === paths.length, () => `wrote ${staged.length} shards, planned ${paths.length}`);
}

/** The manifest (last in `staged`) is the commit point: it is taken away first and put back last. */
async function publish(dir: string, staged: readonly StagedFile[]): Promise<void> {
  const manifest = staged[staged.length - 1]!;
  const old = await fs.rm(manifest.finalPath).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
  if (old) await fsyncDirectory(dir);
  for (const s of staged.slice(0, -1)) await fs.rename(s.tempPath, s.finalPath);
  await fsyncDirectory(dir);
  await fs.rename(manifest.tempPath, manifest.finalPath);
  await fsyncDirectory(dir);
}
