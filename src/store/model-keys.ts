/**
 * Where models live. Version heads and manifests are ordinary records of the data table (so a
 * client can watch `m/<model>/head` for new versions); chunk bytes, their reference counts and
 * parameter sets live in tables of their own, outside the watch event log, which would otherwise
 * keep a second copy of every megabyte written.
 */
import { TesseraError } from '../errors.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { utf8 } from '../util/bytes.ts';
import { MAX_MODEL_NAME_BYTES, MODEL_NAME_PATTERN } from './model-limits.ts';
import { readManifest, writeManifest, type ModelManifest } from './model-manifest.ts';

/** Versions are written zero-padded so that their keys sort numerically. */
const VERSION_DIGITS = 16;

export function validateModelName(model: string): void {
  if (typeof model !== 'string' || !MODEL_NAME_PATTERN.test(model) || model.length > MAX_MODEL_NAME_BYTES) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `model name ${JSON.stringify(model)} must be 1..${MAX_MODEL_NAME_BYTES} characters of ${MODEL_NAME_PATTERN.source}`,
    );
  }
}

export function validateVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) throw new TesseraError('INVALID_ARGUMENT', `version must be an integer >= 1, got ${version}`);
}

export function headKey(model: string): Uint8Array {
  return utf8(`m/${model}/head`);
}

export function versionKey(model: string, version: number): Uint8Array {
  return utf8(`m/${model}/v/${String(version).padStart(VERSION_DIGITS, '0')}`);
}

/** Every version key of a model starts with this. */
export function versionPrefix(model: string): Uint8Array {
  return utf8(`m/${model}/v/`);
}

/** Every model key starts with this (head and versions). */
export const MODEL_KEY_PREFIX = utf8('m/');

export function paramKey(model: string): Uint8Array {
  return utf8(model);
}

/** `head`: the visible version (0 = none). `latest`: the highest version ever given out, never reused. */
export interface ModelHead {
  readonly head: number;
  readonly latest: number;
}

export function encodeHead(h: ModelHead): Uint8Array {
  return new ByteWriter(8).uvarint(h.head).uvarint(h.latest).finish();
}

export function decodeHead(data: Uint8Array): ModelHead {
  const r = new ByteReader(data, 'model head', 'CORRUPTION');
  const head = r.uvarint();
  const latest = r.uvarint();
  r.end();
  if (head > latest) r.fail(`head ${head} is past latest ${latest}`);
  return { head, latest };
}

export interface StoredVersion {
  readonly version: number;
  /** Revision (Raft index) of the commit that made the version visible. */
  readonly createdRevision: number;
  readonly manifest: ModelManifest;
}

export function encodeStoredVersion(v: StoredVersion): Uint8Array {
  const w = new ByteWriter(256).uvarint(v.version).uvarint(v.createdRevision);
  writeManifest(w, v.manifest);
  return w.finish();
}

export function decodeStoredVersion(data: Uint8Array): StoredVersion {
  const r = new ByteReader(data, 'model version', 'CORRUPTION');
  const version = r.uvarint();
  const createdRevision = r.uvarint();
  const manifest = readManifest(r);
  r.end();
  return { version, createdRevision, manifest };
}

/** Parses the version number back out of a version key. */
export function versionOfKey(key: Uint8Array, model: string): number {
  const prefix = versionPrefix(model).length;
  const digits = new TextDecoder().decode(key.subarray(prefix));
  const v = Number(digits);
  if (digits.length !== VERSION_DIGITS || !Number.isSafeInteger(v)) throw new TesseraError('CORRUPTION', `bad version key for model ${model}`);
  return v;
}
