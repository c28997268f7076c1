/**
 * Sharded safetensors checkpoints: `model-00001-of-00003.safetensors` ... plus
 * `model.safetensors.index.json` = `{"metadata"?: {...}, "weight_map": {tensor: shardFileName}}`,
 * the layout Hugging Face writes.
 *
 * An index is trusted only after it agrees with its shards: every shard it names exists and is a
 * valid safetensors file, and each shard holds exactly the tensors the weight_map assigns to it
 * (a tensor missing from its shard, or a shard holding a tensor the map does not name, is
 * INVALID_FORMAT). Shard names must be plain file names, so an index can never point outside its
 * directory.
 *
 * Planning: tensors in the writer's order (element size descending, then name as UTF-8 bytes)
 * are packed greedily into shards of at most `maxShardBytes` of tensor data (headers not
 * counted, as in Hugging Face's `max_shard_size`); a tensor is never split, so one larger than
 * the bound gets a shard of its own. The plan depends only on the set of tensors, not their
 * input order. A sharded export writes every shard, then the index last, so an index on disk
 * always names complete shards; across files this is not atomic, so export a new checkpoint into
 * a fresh directory rather than over an old one with a different shard count.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TesseraError } from '../errors.ts';
import { byteLength } from './dtype.ts';
import { openSafetensors, topLevelKeysRejectingDuplicates, type SafetensorsHeader } from './safetensors-reader.ts';
import { replaceFileAtomically, sortForLayout, writeSafetensors, type SafetensorsWriteEntry, type TensorDescriptor } from './safetensors-writer.ts';

export const SAFETENSORS_INDEX_FILE_NAME = 'model.safetensors.index.json';
/** An index is a list of names like a header, so it gets the header's bound. */
export const MAX_SAFETENSORS_INDEX_BYTES = 100_000_000;
/** Shard numbers have five digits. */
export const MAX_SHARD_COUNT = 99_999;
export const DEFAULT_SHARD_PREFIX = 'model';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface SafetensorsIndex {
  /** Free-form; Hugging Face stores `total_size` (bytes of tensor data) here. */
  readonly metadata: Readonly<Record<string, JsonValue>>;
  /** Tensor name → shard file name, in name order (UTF-8 bytes). */
  readonly weightMap: ReadonlyMap<string, string>;
}

export interface ShardPlan {
  readonly fileName: string;
  /** In the order the shard's file lists them. */
  readonly tensors: readonly string[];
  readonly dataBytes: number;
}

const SHARD_NAME = /^(.+)-(\d{5})-of-(\d{5})\.safetensors$/;

function invalid(source: string, message: string): TesseraError {
  return new TesseraError('INVALID_FORMAT', `${source}: ${message}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** `prefix-00001-of-00003.safetensors` for shard 1 of 3 (shards count from 1). */
export function shardFileName(shard: number, shardCount: number, prefix = DEFAULT_SHARD_PREFIX): string {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1 || shardCount > MAX_SHARD_COUNT) {
    throw new TesseraError('INVALID_ARGUMENT', `shard count must be 1..${MAX_SHARD_COUNT}, got ${shardCount}`);
  }
  if (!Number.isSafeInteger(shard) || shard < 1 || shard > shardCount) {
    throw new TesseraError('INVALID_ARGUMENT', `shard number must be 1..${shardCount}, got ${shard}`);
  }
  if (!isPlainFileName(prefix)) throw new TesseraError('INVALID_ARGUMENT', `shard prefix ${JSON.stringify(prefix)} is not a plain file name`);
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${prefix}-${pad(shard)}-of-${pad(shardCount)}.safetensors`;
}

/** The parts of a shard file name, or null if `fileName` is not one. */
export function parseShardFileName(fileName: string): { prefix: string; shard: number; shardCount: number } | null {
  const m = SHARD_NAME.exec(fileName);
  if (!m) return null;
  const shard = Number(m[2]);
  const shardCount = Number(m[3]);
  if (shard < 1 || shard > shardCount) return null;
  return { prefix: m[1]!, shard, shardCount };
}

/** Validates an index's JSON text (structure only; `readSafetensorsIndex` also checks the shards). */
export function parseSafetensorsIndex(text: string, source = SAFETENSORS_INDEX_FILE_NAME): SafetensorsIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(source, `not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(parsed)) throw invalid(source, 'not a JSON object');
  // A name listed twice in weight_map could sit in two shards; JSON.parse would hide that.
  for (const key of topLevelKeysRejectingDuplicates(text, source)) {
    if (key !== 'metadata' && key !== 'weight_map') throw invalid(source, `unknown top-level key ${JSON.stringify(key)}`);
  }
  const metadata = parsed['metadata'] ?? {};
  if (!isPlainObject(metadata)) throw invalid(source, '"metadata" is not an object');
  const weightMap = parsed['weight_map'];
  if (!isPlainObject(weightMap)) throw invalid(source, '"weight_map" is missing or not an object');
  const names = Object.keys(weightMap).sort(byUtf8);
  const map = new Map<string, string>();
  for (const name of names) {
    const shard = weightMap[name];
    if (typeof shard !== 'string' || !isPlainFileName(shard)) {
      throw invalid(source, `weight_map[${JSON.stringify(name)}] is not a plain file name: ${JSON.stringify(shard)}`);
    }
    map.set(name, shard);
  }
  return Object.freeze({ metadata: Object.freeze({ ...(metadata as Record<string, JsonValue>) }), weightMap: map });
}

/** JSON with keys sorted as UTF-8 bytes at every level (object literals would reorder integer-like keys). */
function stableJson(value: JsonValue, indent: string): string {
  const inner = `${indent}  `;
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TesseraError('INVALID_ARGUMENT', `index metadata holds ${value}, which JSON cannot represent`);
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value !== 'object') throw new TesseraError('INVALID_ARGUMENT', `index metadata holds a ${typeof value}, which JSON cannot represent`);
  if (Array.isArray(value)) {
    const items = (value as readonly JsonValue[]).map((v) => `${inner}${stableJson(v, inner)}`);
    return items.length === 0 ? '[]' : `[\n${items.join(',\n')}\n${indent}]`;
  }
  const record = value as { readonly [key: string]: JsonValue };
  const keys = Object.keys(record).sort(byUtf8);
  const items = keys.map((k) => `${inner}${JSON.stringify(k)}: ${stableJson(record[k]!, inner)}`);
  return items.length === 0 ? '{}' : `{\n${items.join(',\n')}\n${indent}}`;
}

/** The index file's text: two-space indent, keys sorted, newline at the end (as Hugging Face writes it). */
export function serializeSafetensorsIndex(index: SafetensorsIndex): string {
  const weightMap: Record<string, JsonValue> = {};
  for (const [name, shard] of index.weightMap) {
    if (!isPlainFileName(shard)) throw new TesseraError('INVALID_ARGUMENT', `shard ${JSON.stringify(shard)} is not a plain file name`);
    Object.defineProperty(weightMap, name, { value: shard, enumerable: true });
  }
  const root: Record<string, JsonValue> = { metadata: index.metadata, weight_map: weightMap };
  return `${stableJson(root, '')}\n`;
}

/** Writes the index atomically (temp file, fsync, rename, fsync the directory). */
export async function writeSafetensorsIndex(path: string, index: SafetensorsIndex): Promise<void> {
  const bytes = new TextEncoder().encode(serializeSafetensorsIndex(index));
  await replaceFileAtomically(path, async (handle) => {
    let done = 0;
    while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, done)).bytesWritten;
  });
}

/**
 * Packs tensors into shards of at most `maxShardBytes` of data each (see the top of this file).
 * A single shard is still named `-00001-of-00001`; whether to write one unsharded file instead
 * is the caller's choice.
 */
export function planShards(tensors: readonly TensorDescriptor[], maxShardBytes: number, prefix = DEFAULT_SHARD_PREFIX): ShardPlan[] {
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes < 1) {
    throw new TesseraError('INVALID_ARGUMENT', `maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new TesseraError('INVALID_ARGUMENT', `duplicate tensor name ${JSON.stringify(t.name)}`);
    seen.add(t.name);
  }
  const groups: { tensors: string[]; dataBytes: number }[] = [];
  for (const t of sortForLayout(tensors)) {
    const size = byteLength(t.dtype, t.shape);
    const last = groups[groups.length - 1];
    if (last && (last.tensors.length === 0 || last.dataBytes + size <= maxShardBytes)) {
      last.tensors.push(t.name);
      last.dataBytes += size;
    } else {
      groups.push({ tensors: [t.name], dataBytes: size });
    }
  }
  if (groups.length > MAX_SHARD_COUNT) {
    throw new TesseraError('INVALID_ARGUMENT', `${groups.length} shards needed, more than ${MAX_SHARD_COUNT}; raise maxShardBytes`);
  }
  return groups.map((g, i) => Object.freeze({ fileName: shardFileName(i + 1, groups.length, prefix), tensors: Object.freeze(g.tensors), dataBytes: g.dataBytes }));
}

/** The index for a plan; `metadata.total_size` is set to the plan's total tensor bytes. */
export function indexForShards(plan: readonly ShardPlan[], metadata: Readonly<Record<string, JsonValue>> = {}): SafetensorsIndex {
  const weightMap = new Map<string, string>();
  let total = 0;
  for (const shard of plan) {
    total += shard.dataBytes;
    for (const name of shard.tensors) weightMap.set(name, shard.fileName);
  }
  const names = [...weightMap.keys()].sort(byUtf8);
  return Object.freeze({
    metadata: Object.freeze({ ...metadata, total_size: total }),
    weightMap: new Map(names.map((n) => [n, weightMap.get(n)!])),
  });
}

/**
 * Exports a sharded checkpoint into `dir`: every shard (each carrying `metadata` in its header),
 * then `model.safetensors.index.json`. Returns the plan and the index written.
 */
export async function writeShardedSafetensors(
  dir: string,
  entries: readonly SafetensorsWriteEntry[],
  options: { maxShardBytes: number; metadata?: Readonly<Record<string, string>>; prefix?: string },
): Promise<{ plan: readonly ShardPlan[]; index: SafetensorsIndex }> {
  const plan = planShards(entries, options.maxShardBytes, options.prefix);
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const shard of plan) {
    await writeSafetensors(join(dir, shard.fileName), shard.tensors.map((n) => byName.get(n)!), options.metadata);
  }
  const index = indexForShards(plan);
  await writeSafetensorsIndex(join(dir, SAFETENSORS_INDEX_FILE_NAME), index);
  return { plan, index };
}

function isMissingFile(e: unknown): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Reads an index file and checks it against its shards (headers only; no tensor data is read).
 * Returns the index and each shard's validated header, keyed by shard file name.
 */
export async function readSafetensorsIndex(indexPath: string): Promise<{ index: SafetensorsIndex; shards: ReadonlyMap<string, SafetensorsHeader> }> {
  const size = (await stat(indexPath)).size;
  if (size > MAX_SAFETENSORS_INDEX_BYTES) throw invalid(indexPath, `index is ${size} bytes, over the limit of ${MAX_SAFETENSORS_INDEX_BYTES}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(await readFile(indexPath));
  } catch {
    throw invalid(indexPath, 'index is not valid UTF-8');
  }
  const index = parseSafetensorsIndex(text, indexPath);

  const expected = new Map<string, Set<string>>();
  for (const [name, shard] of index.weightMap) {
    let names = expected.get(shard);
    if (!names) expected.set(shard, (names = new Set()));
    names.add(name);
  }
  const dir = dirname(indexPath);
  const shards = new Map<string, SafetensorsHeader>();
  for (const [shard, names] of [...expected].sort(([a], [b]) => byUtf8(a, b))) {
    const shardPath = join(dir, shard);
    let header: SafetensorsHeader;
    try {
      const reader = await openSafetensors(shardPath);
      header = reader.header;
      await reader.close();
    } catch (e) {
      if (isMissingFile(e)) throw invalid(indexPath, `shard ${JSON.stringify(shard)} named by the weight_map is missing`);
      throw e;
    }
    const held = new Set(header.tensors.map((t) => t.name));
    for (const name of names) {
      if (!held.has(name)) throw invalid(indexPath, `weight_map puts tensor ${JSON.stringify(name)} in ${JSON.stringify(shard)}, which does not hold it`);
    }
    for (const name of held) {
      if (!names.has(name)) throw invalid(indexPath, `shard ${JSON.stringify(shard)} holds tensor ${JSON.stringify(name)}, which the weight_map does not assign to it`);
    }
    shards.set(shard, header);
  }
  return { index, shards };
}

