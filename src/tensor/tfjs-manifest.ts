/**
 * The TensorFlow.js weights manifest: an array of groups `{paths, weights}`, found either alone in a
 * `*-weights_manifest.json` or as the `weightsManifest` field of a `model.json`. Everything in it is
 * checked before a single shard byte is read, so a bad file fails with INVALID_FORMAT naming the
 * offending field instead of producing wrong tensors.
 */
import fs from 'node:fs/promises';
import { TesseraError } from '../errors.ts';
import { fromUtf8 } from '../util/bytes.ts';
import { elementCount } from './dtype.ts';
import {
  TFJS_DTYPE_BYTES,
  TFJS_QUANTIZATION_BYTES,
  TFJS_TO_DTYPE,
  TFJS_UNSUPPORTED_DTYPES,
  isTfjsDtype,
  isTfjsQuantizationDtype,
  type TfjsDtype,
} from './tfjs-dtypes.ts';
import { MAX_TFJS_GROUP_BYTES, MAX_TFJS_MANIFEST_BYTES, MAX_TFJS_SHARDS_PER_GROUP, MAX_TFJS_TENSOR_BYTES } from './tfjs-limits.ts';
import { shardPathProblem } from './tfjs-paths.ts';

/**
 * Field names follow the manifest (`original_dtype`), so the object can be stored as metadata and
 * written back into a TF.js manifest unchanged.
 */
export type TfjsQuantization =
  | {
      /** value = q * scale + min */
      readonly dtype: 'uint8' | 'uint16';
      readonly scale: number;
      readonly min: number;
      readonly original_dtype?: TfjsDtype;
    }
  | { readonly dtype: 'float16'; readonly original_dtype?: TfjsDtype };

export interface TfjsWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: TfjsDtype;
  readonly quantization?: TfjsQuantization;
}

export interface TfjsWeightGroup {
  readonly paths: readonly string[];
  readonly weights: readonly TfjsWeightSpec[];
}

export type TfjsManifest = readonly TfjsWeightGroup[];

/** Bytes the weight occupies in its group's shards. */
export function storedByteLength(spec: TfjsWeightSpec): number {
  const size = spec.quantization ? TFJS_QUANTIZATION_BYTES[spec.quantization.dtype] : TFJS_DTYPE_BYTES[spec.dtype];
  return elementCount(spec.shape) * size;
}

/** Bytes of the imported tensor (after dequantization). */
export function outputByteLength(spec: TfjsWeightSpec): number {
  return elementCount(spec.shape) * TFJS_DTYPE_BYTES[spec.dtype];
}

/** Reads and validates a weights manifest or a model.json; the shard files are not touched. */
export async function readTfjsManifest(file: string): Promise<TfjsManifest> {
  const handle = await fs.open(file, 'r');
  let bytes: Uint8Array;
  try {
    const { size } = await handle.stat();
    if (size > MAX_TFJS_MANIFEST_BYTES) {
      throw new TesseraError('INVALID_FORMAT', `${file}: manifest is ${size} bytes, more than ${MAX_TFJS_MANIFEST_BYTES}`);
    }
    // Read one byte past the limit so a file that grew after the stat is still caught.
    const buf = new Uint8Array(MAX_TFJS_MANIFEST_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > MAX_TFJS_MANIFEST_BYTES) {
        throw new TesseraError('INVALID_FORMAT', `${file}: manifest is more than ${MAX_TFJS_MANIFEST_BYTES} bytes`);
      }
    }
    bytes = buf.subarray(0, n);
  } finally {
    await handle.close();
  }
  return parseTfjsManifestBytes(bytes, file);
}

export function parseTfjsManifestBytes(bytes: Uint8Array, source: string): TfjsManifest {
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch (e) {
    throw new TesseraError('INVALID_FORMAT', `${source}: manifest is not valid UTF-8`, { cause: e });
  }
  // Editors on Windows like to prepend a BOM, which JSON.parse rejects.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TesseraError('INVALID_FORMAT', `${source}: manifest is not valid JSON`, { cause: e });
  }
  return parseTfjsManifest(json, source);
}

/** Validates parsed JSON: a manifest array, or a model.json object holding one in `weightsManifest`. */
export function parseTfjsManifest(json: unknown, source: string): TfjsManifest {
  if (Array.isArray(json)) return parseGroups(json, source, 'manifest');
  if (isRecord(json) && 'weightsManifest' in json) {
    const inner = json['weightsManifest'];
    if (!Array.isArray(inner)) fail(source, 'weightsManifest', 'must be an array of weight groups');
    return parseGroups(inner, source, 'weightsManifest');
  }
  return fail(source, '(root)', 'is neither a weights manifest (an array of groups) nor a model.json with weightsManifest');
}

function parseGroups(groups: readonly unknown[], source: string, where: string): TfjsManifest {
  const names = new Set<string>();
  const paths = new Set<string>();
  return groups.map((g, i) => parseGroup(g, source, `${where}[${i}]`, names, paths));
}

function parseGroup(g: unknown, source: string, where: string, names: Set<string>, seenPaths: Set<string>): TfjsWeightGroup {
  if (!isRecord(g)) fail(source, where, 'must be an object {paths, weights}');
  const rawPaths = g['paths'];
  if (!Array.isArray(rawPaths)) fail(source, `${where}.paths`, 'must be an array of strings');
  if (rawPaths.length === 0) fail(source, `${where}.paths`, 'must list at least one shard file');
  if (rawPaths.length > MAX_TFJS_SHARDS_PER_GROUP) {
    fail(source, `${where}.paths`, `lists ${rawPaths.length} shards, more than ${MAX_TFJS_SHARDS_PER_GROUP}`);
  }
  const paths = rawPaths.map((p, j) => {
    const at = `${where}.paths[${j}]`;
    if (typeof p !== 'string') fail(source, at, 'must be a string');
    const problem = shardPathProblem(p);
    if (problem !== undefined) fail(source, at, `shard path ${JSON.stringify(p)} ${problem}`);
    // Two groups sharing a file would each claim all of its bytes.
    if (seenPaths.has(p)) fail(source, at, `shard path ${JSON.stringify(p)} is listed twice`);
    seenPaths.add(p);
    return p;
  });

  const rawWeights = g['weights'];
  if (!Array.isArray(rawWeights)) fail(source, `${where}.weights`, 'must be an array of weight entries');
  let groupBytes = 0;
  const weights = rawWeights.map((w, j) => {
    const spec = parseWeight(w, source, `${where}.weights[${j}]`);
    if (names.has(spec.name)) fail(source, `${where}.weights[${j}].name`, `duplicate weight name ${JSON.stringify(spec.name)}`);
    names.add(spec.name);
    groupBytes += storedByteLength(spec);
    if (groupBytes > MAX_TFJS_GROUP_BYTES) fail(source, where, `group holds more than ${MAX_TFJS_GROUP_BYTES} bytes`);
    return spec;
  });
  return { paths, weights };
}

function parseWeight(w: unknown, source: string, where: string): TfjsWeightSpec {
  if (!isRecord(w)) fail(source, where, 'must be an object {name, shape, dtype}');
  const name = w['name'];
  if (typeof name !== 'string' || name.length === 0) fail(source, `${where}.name`, 'must be a non-empty string');
  const at = `${where} (${JSON.stringify(name)})`;

  const dtype = w['dtype'];
  if (typeof dtype !== 'string') fail(source, `${at}.dtype`, 'must be a string');
  if (TFJS_UNSUPPORTED_DTYPES.includes(dtype)) fail(source, `${at}.dtype`, `dtype ${JSON.stringify(dtype)} is not supported`);
  if (!isTfjsDtype(dtype)) fail(source, `${at}.dtype`, `unknown dtype ${JSON.stringify(dtype)}`);

  const shape = parseShape(w['shape'], dtype, source, `${at}.shape`);
  const rawQuantization = w['quantization'];
  if (rawQuantization === undefined) return { name, shape, dtype };
  const quantization = parseQuantization(rawQuantization, dtype, source, `${at}.quantization`);
  return { name, shape, dtype, quantization };
}

function parseShape(shape: unknown, dtype: TfjsDtype, source: string, where: string): readonly number[] {
  if (!Array.isArray(shape)) fail(source, where, 'must be an array of dimensions');
  // Bounding the product as it grows keeps it exact; a zero anywhere still needs every dim checked.
  const maxElements = Math.floor(MAX_TFJS_TENSOR_BYTES / TFJS_DTYPE_BYTES[dtype]);
  let count = 1;
  let hasZero = false;
  const dims = shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(source, `${where}[${i}]`, `must be a non-negative safe integer, got ${JSON.stringify(d)}`);
    }
    if (d === 0) hasZero = true;
    else count *= d;
    if (!hasZero && count > maxElements) {
      fail(source, where, `tensor exceeds ${MAX_TFJS_TENSOR_BYTES} bytes as ${TFJS_TO_DTYPE[dtype]}`);
    }
    return d;
  });
  return dims;
}

function parseQuantization(q: unknown, dtype: TfjsDtype, source: string, where: string): TfjsQuantization {
  if (!isRecord(q)) fail(source, where, 'must be an object {dtype, scale?, min?, original_dtype?}');
  const qDtype = q['dtype'];
  if (typeof qDtype !== 'string' || !isTfjsQuantizationDtype(qDtype)) {
    fail(source, `${where}.dtype`, `must be "uint8", "uint16" or "float16", got ${JSON.stringify(qDtype)}`);
  }

  const originalRaw = q['original_dtype'];
  let original: TfjsDtype | undefined;
  if (originalRaw !== undefined) {
    // The converter records the pre-quantization dtype, which is also the weight's dtype; a mismatch
    // means the writer and this reader disagree on what the bytes decode to.
    if (originalRaw !== dtype) fail(source, `${where}.original_dtype`, `must equal the weight dtype ${JSON.stringify(dtype)}, got ${JSON.stringify(originalRaw)}`);
    original = dtype;
  }

  const hasScale = 'scale' in q;
  const hasMin = 'min' in q;
  if (qDtype === 'float16') {
    // TF.js decodes float16 only into float32; scale/min would be silently ignored, so refuse them.
    if (dtype !== 'float32') fail(source, where, `float16 quantization needs dtype float32, got ${dtype}`);
    if (hasScale || hasMin) fail(source, where, 'float16 quantization takes no scale or min');
    return original === undefined ? { dtype: qDtype } : { dtype: qDtype, original_dtype: original };
  }

  // uint8/uint16: affine dequantization into float32, or rounded into int32 (as TF.js does).
  if (dtype === 'bool') fail(source, where, `${qDtype} quantization cannot decode into bool`);
  const scale = q['scale'];
  const min = q['min'];
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail(source, `${where}.scale`, `must be a finite number, got ${JSON.stringify(scale)}`);
  if (typeof min !== 'number' || !Number.isFinite(min)) fail(source, `${where}.min`, `must be a finite number, got ${JSON.stringify(min)}`);
  return original === undefined ? { dtype: qDtype, scale, min } : { dtype: qDtype, scale, min, original_dtype: original };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(source: string, where: string, message: string): never {
  throw new TesseraError('INVALID_FORMAT', `${source}: ${where}: ${message}`);
}
