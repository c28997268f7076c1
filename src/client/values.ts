/**
 * How client keys and values become bytes, in one place. Keys and values are stored as raw
 * bytes; the client only chooses an encoding when handed something else:
 *
 *   Uint8Array (Buffer included)  stored as is
 *   string                        UTF-8 (a lone surrogate: INVALID_ARGUMENT)
 *   anything else but undefined   MessagePack (msgpackr, plain maps: no record extension, so
 *                                 any MessagePack reader can decode it). Numbers, booleans,
 *                                 null, arrays, plain objects, Maps, Dates, typed arrays (as
 *                                 msgpackr extensions), bigints...
 *   undefined                     INVALID_ARGUMENT
 *
 * Keys must be strings (UTF-8) or bytes. Nothing records which encoding a value used: decode
 * with the matching helper (decodeString, decodeMsgpack) or the typed getters of Client.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TesseraError } from '../errors.ts';
import { validateKey, validateRange } from '../store/kv-command.ts';
import type { KvRecord } from '../store/kv-command.ts';
import { ownedBytes } from '../util/alloc.ts';
import { asUint8Array, fromUtf8, isWellFormed, prefixEnd, utf8 } from '../util/bytes.ts';

export type Key = string | Uint8Array;
/** Bytes, a string, or any other value MessagePack can encode. */
export type Value = unknown;

/** A key with its record, as reads, ranges and results return them. */
export interface KvEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** Revision of the put that created the key (since it was last absent). */
  readonly createRevision: number;
  /** Revision of the last put to the key. */
  readonly modRevision: number;
  /** Puts since the key was created: 1 on creation. */
  readonly version: number;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

export function encodeKey(key: Key): Uint8Array {
  if (typeof key === 'string') return utf8(wellFormed('key', key));
  if (key instanceof Uint8Array) return asUint8Array(key);
  throw new TesseraError('INVALID_ARGUMENT', `a key must be a string or a Uint8Array, got ${typeof key}`);
}

/** encodeKey, then the key limits (EMPTY_KEY, KEY_TOO_LONG). */
export function checkedKey(key: Key): Uint8Array {
  const k = encodeKey(key);
  validateKey(k);
  return k;
}

export function encodeValue(value: Value): Uint8Array {
  if (value instanceof Uint8Array) return asUint8Array(value);
  if (typeof value === 'string') return utf8(wellFormed('value', value));
  if (value === undefined) throw new TesseraError('INVALID_ARGUMENT', 'a value cannot be undefined');
  try {
    // A copy: msgpackr's output may share a buffer it reuses.
    return new Uint8Array(packr.pack(value));
  } catch (e) {
    throw new TesseraError('INVALID_ARGUMENT', `value cannot be encoded as MessagePack: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * `s`, if it has no lone surrogate: UTF-8 would store U+FFFD in its place, so two different
 * strings would name the same key, and a value would read back changed. Refused instead, as
 * decodeString refuses bytes that are not UTF-8.
 */
function wellFormed(what: string, s: string): string {
  if (!isWellFormed(s)) {
    throw new TesseraError('INVALID_ARGUMENT', `a string ${what} must be well-formed UTF-16: it has a lone surrogate, which UTF-8 cannot encode`);
  }
  return s;
}

/** UTF-8; INVALID_ARGUMENT if the bytes are not valid UTF-8 (never silently replaced). */
export function decodeString(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch (e) {
    throw new TesseraError('INVALID_ARGUMENT', 'value is not valid UTF-8', { cause: e });
  }
}

/** MessagePack, as encodeValue wrote it; INVALID_ARGUMENT if the bytes are not MessagePack. */
export function decodeMsgpack<T = unknown>(bytes: Uint8Array): T {
  try {
    return unpackr.unpack(bytes) as T;
  } catch (e) {
    throw new TesseraError('INVALID_ARGUMENT', `value is not MessagePack: ${(e as Error).message}`, { cause: e });
  }
}

/** What the user gets: bytes of their own (see ownedBytes), never a view the store or a socket keeps. */
export function toEntry(key: Uint8Array, r: KvRecord): KvEntry {
  return { key: ownedBytes(key), value: ownedBytes(r.value), createRevision: r.createRevision, modRevision: r.modRevision, version: r.version };
}

export function toOptionalEntry(key: Uint8Array, r: KvRecord | null | undefined): KvEntry | null {
  return r ? toEntry(key, r) : null;
}

/** The smallest key: keys are never empty. */
const FIRST_KEY = new Uint8Array([0]);

/**
 * The key range [start, end) named the way range(), deleteRange() and txn ops take it:
 * `end` undefined: every key starting with `prefixOrStart` ('' = every key); null: no upper
 * bound; a key: up to it, exclusive, and after the start (INVALID_ARGUMENT otherwise, so that
 * range() and deleteRange() refuse the same ranges).
 */
export function keyRange(prefixOrStart: Key, end?: Key | null): { start: Uint8Array; end: Uint8Array | null } {
  const p = encodeKey(prefixOrStart);
  if (end === undefined) {
    return p.length === 0 ? { start: FIRST_KEY, end: null } : { start: checkedKey(p), end: prefixEnd(p) };
  }
  const start = p.length === 0 ? FIRST_KEY : checkedKey(p);
  if (end === null) return { start, end: null };
  const e = encodeKey(end);
  validateRange(start, e);
  return { start, end: e };
}

/** Whether key `k` starts with `p` (watch filters). */
export function hasPrefix(k: Uint8Array, p: Uint8Array): boolean {
  if (k.length < p.length) return false;
  for (let i = 0; i < p.length; i++) if (k[i] !== p[i]) return false;
  return true;
}

/** Whether two keys are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && hasPrefix(a, b);
}
