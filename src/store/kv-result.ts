/**
 * Results of applied commands, and their encoding: a session caches its last result in the
 * replicated state, so a result must survive the session table (and snapshots) byte for byte.
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { readOptionalRecord, writeOptionalRecord, type KvRecord } from './kv-record.ts';

/** What one op of a txn did. */
export type KvOpResult =
  | { readonly op: 'put'; readonly prev: KvRecord | null }
  | { readonly op: 'delete'; readonly prev: KvRecord | null }
  | { readonly op: 'deleteRange'; readonly deleted: number }
  | { readonly op: 'get'; readonly value: KvRecord | null };

export type KvResult =
  | {
      readonly ok: true;
      /** Raft index of the command's entry: the revision of everything it changed. */
      readonly revision: number;
      /** put / delete / cas: the record before the command (null = was absent). */
      readonly prev?: KvRecord | null;
      /** get: the record read (null = absent). */
      readonly value?: KvRecord | null;
      /** deleteRange: how many keys it deleted. */
      readonly deleted?: number;
      /** txn: whether every compare held (then `success` ran, else `failure`). */
      readonly succeeded?: boolean;
      /** txn: one result per op of the branch that ran, in op order. */
      readonly results?: readonly KvOpResult[];
      /** commitVersion: the version made visible; deleteVersion: the head after it (0 = none). */
      readonly version?: number;
      /** chunkPut: the chunk was already stored (nothing was written). */
      readonly existed?: boolean;
      /** paramPush: the worker's clock after the push. */
      readonly clock?: number;
      /** paramPush / paramInit: the parameter set's step (updates applied) after the command. */
      readonly step?: number;
    }
  /** commitVersion: these chunks are not stored (never written, or collected): write them and retry. */
  | { readonly ok: false; readonly reason: 'missing_chunks'; readonly missing: readonly Uint8Array[] }
  /** commitVersion: the head is not the expected one any more. */
  | { readonly ok: false; readonly reason: 'head_moved'; readonly head: number }
  /** deleteVersion / paramPush: no such version or parameter set. */
  | { readonly ok: false; readonly reason: 'not_found' }
  /** paramPush: the worker is ahead of what its sync mode allows; retry after others pushed. */
  | { readonly ok: false; readonly reason: 'param_wait'; readonly clock: number; readonly minClock: number }
  /** paramInit without replace: the model already has a parameter set. */
  | { readonly ok: false; readonly reason: 'param_exists' }
  /**
   * A command valid in itself but not against the state (a chunk whose bytes do not hash to its
   * address, gradients shaped unlike the parameters, a push at a clock the worker is not at).
   */
  | { readonly ok: false; readonly reason: 'invalid'; readonly message: string }
  | { readonly ok: false; readonly reason: 'compare_failed'; readonly current: KvRecord | null }
  /** The command is older than the client's latest: a delayed duplicate, not applied. */
  | { readonly ok: false; readonly reason: 'session_stale' }
  /**
   * Not applied, because the state machine cannot tell it from a command of a session that
   * expired. An earlier attempt of the same command MAY have been applied: the outcome is
   * unknown, not failed. `horizon` is the lowest `since` a new session may open with now.
   */
  | { readonly ok: false; readonly reason: 'session_expired'; readonly horizon: number };

const RESULT_OK = 1;
const RESULT_COMPARE_FAILED = 2;
const RESULT_SESSION_STALE = 3;
const RESULT_SESSION_EXPIRED = 4;
const RESULT_MISSING_CHUNKS = 5;
const RESULT_HEAD_MOVED = 6;
const RESULT_NOT_FOUND = 7;
const RESULT_PARAM_WAIT = 8;
const RESULT_PARAM_EXISTS = 9;
const RESULT_INVALID = 10;

const HAS_PREV = 1;
const HAS_VALUE = 2;
const HAS_DELETED = 4;
const HAS_SUCCEEDED = 8;
const HAS_RESULTS = 16;
const HAS_VERSION = 32;
const HAS_EXISTED = 64;
const HAS_CLOCK = 128;
const HAS_STEP = 256;
const ALL_FLAGS = HAS_PREV | HAS_VALUE | HAS_DELETED | HAS_SUCCEEDED | HAS_RESULTS | HAS_VERSION | HAS_EXISTED | HAS_CLOCK | HAS_STEP;

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DELETE_RANGE = 3;
const OP_GET = 4;

export function encodeResult(res: KvResult): Uint8Array {
  const w = new ByteWriter(64);
  writeResult(w, res);
  return w.finish();
}

/** Appends `res` to `w` as length-prefixed bytes (ByteWriter.bytes of encodeResult), without a copy of its own. */
export function writeResultBytes(w: ByteWriter, res: KvResult): ByteWriter {
  const inner = new ByteWriter(64);
  writeResult(inner, res);
  return inner.finishInto((bytes) => w.bytes(bytes));
}

export function decodeResult(data: Uint8Array, what = 'kv result'): KvResult {
  const r = new ByteReader(data, what, 'CORRUPTION');
  const res = readResult(r);
  r.end();
  return res;
}

function writeResult(w: ByteWriter, res: KvResult): void {
  if (!res.ok) {
    if (res.reason === 'compare_failed') {
      w.u8(RESULT_COMPARE_FAILED);
      writeOptionalRecord(w, res.current);
    } else {
      writeFailure(w, res);
    }
    return;
  }
  const flags =
    (res.prev !== undefined ? HAS_PREV : 0) |
    (res.value !== undefined ? HAS_VALUE : 0) |
    (res.deleted !== undefined ? HAS_DELETED : 0) |
    (res.succeeded !== undefined ? HAS_SUCCEEDED : 0) |
    (res.results !== undefined ? HAS_RESULTS : 0) |
    (res.version !== undefined ? HAS_VERSION : 0) |
    (res.existed !== undefined ? HAS_EXISTED : 0) |
    (res.clock !== undefined ? HAS_CLOCK : 0) |
    (res.step !== undefined ? HAS_STEP : 0);
  // A varint: one byte (the same as the original u8) while only the first seven flags are used.
  w.u8(RESULT_OK).uvarint(res.revision).uvarint(flags);
  if (res.prev !== undefined) writeOptionalRecord(w, res.prev);
  if (res.value !== undefined) writeOptionalRecord(w, res.value);
  if (res.deleted !== undefined) w.uvarint(res.deleted);
  if (res.succeeded !== undefined) w.u8(res.succeeded ? 1 : 0);
  if (res.results !== undefined) {
    w.uvarint(res.results.length);
    for (const op of res.results) writeOpResult(w, op);
  }
  if (res.version !== undefined) w.uvarint(res.version);
  if (res.existed !== undefined) w.u8(res.existed ? 1 : 0);
  if (res.clock !== undefined) w.uvarint(res.clock);
  if (res.step !== undefined) w.uvarint(res.step);
}

function writeFailure(w: ByteWriter, res: Exclude<KvResult, { ok: true } | { reason: 'compare_failed' }>): void {
  switch (res.reason) {
    case 'session_stale':
      w.u8(RESULT_SESSION_STALE);
      return;
    case 'session_expired':
      w.u8(RESULT_SESSION_EXPIRED).uvarint(res.horizon);
      return;
    case 'missing_chunks':
      w.u8(RESULT_MISSING_CHUNKS).uvarint(res.missing.length);
      for (const h of res.missing) w.bytes(h);
      return;
    case 'head_moved':
      w.u8(RESULT_HEAD_MOVED).uvarint(res.head);
      return;
    case 'not_found':
      w.u8(RESULT_NOT_FOUND);
      return;
    case 'param_wait':
      w.u8(RESULT_PARAM_WAIT).uvarint(res.clock).uvarint(res.minClock);
      return;
    case 'param_exists':
      w.u8(RESULT_PARAM_EXISTS);
      return;
    case 'invalid':
      w.u8(RESULT_INVALID).string(res.message);
      return;
  }
}

function readResult(r: ByteReader): KvResult {
  const tag = r.u8();
  switch (tag) {
    case RESULT_OK: {
      const revision = r.uvarint();
      const flags = r.uvarint();
      if (flags & ~ALL_FLAGS) r.fail(`bad result flags ${flags}`);
      const out: { -readonly [K in keyof Extract<KvResult, { ok: true }>]: Extract<KvResult, { ok: true }>[K] } = {
        ok: true,
        revision,
      };
      if (flags & HAS_PREV) out.prev = requireDefined(r, readOptionalRecord(r));
      if (flags & HAS_VALUE) out.value = requireDefined(r, readOptionalRecord(r));
      if (flags & HAS_DELETED) out.deleted = r.uvarint();
      if (flags & HAS_SUCCEEDED) out.succeeded = readBool(r);
      if (flags & HAS_RESULTS) {
        const n = r.uvarint();
        if (n > r.remaining) r.fail(`result count ${n} exceeds remaining bytes`);
        const results: KvOpResult[] = [];
        for (let i = 0; i < n; i++) results.push(readOpResult(r));
        out.results = results;
      }
      if (flags & HAS_VERSION) out.version = r.uvarint();
      if (flags & HAS_EXISTED) out.existed = readBool(r);
      if (flags & HAS_CLOCK) out.clock = r.uvarint();
      if (flags & HAS_STEP) out.step = r.uvarint();
      return out;
    }
    case RESULT_COMPARE_FAILED:
      return { ok: false, reason: 'compare_failed', current: requireDefined(r, readOptionalRecord(r)) };
    case RESULT_SESSION_STALE:
      return { ok: false, reason: 'session_stale' };
    case RESULT_SESSION_EXPIRED:
      return { ok: false, reason: 'session_expired', horizon: r.uvarint() };
    case RESULT_MISSING_CHUNKS: {
      const n = r.uvarint();
      if (n > r.remaining) r.fail(`missing count ${n} exceeds remaining bytes`);
      const missing: Uint8Array[] = [];
      for (let i = 0; i < n; i++) missing.push(r.bytes());
      return { ok: false, reason: 'missing_chunks', missing };
    }
    case RESULT_HEAD_MOVED:
      return { ok: false, reason: 'head_moved', head: r.uvarint() };
    case RESULT_NOT_FOUND:
      return { ok: false, reason: 'not_found' };
    case RESULT_PARAM_WAIT:
      return { ok: false, reason: 'param_wait', clock: r.uvarint(), minClock: r.uvarint() };
    case RESULT_PARAM_EXISTS:
      return { ok: false, reason: 'param_exists' };
    case RESULT_INVALID:
      return { ok: false, reason: 'invalid', message: r.string() };
    default:
      return r.fail(`bad result tag ${tag}`);
  }
}

function writeOpResult(w: ByteWriter, res: KvOpResult): void {
  switch (res.op) {
    case 'put':
      w.u8(OP_PUT);
      writeOptionalRecord(w, res.prev);
      break;
    case 'delete':
      w.u8(OP_DELETE);
      writeOptionalRecord(w, res.prev);
      break;
    case 'deleteRange':
      w.u8(OP_DELETE_RANGE).uvarint(res.deleted);
      break;
    case 'get':
      w.u8(OP_GET);
      writeOptionalRecord(w, res.value);
      break;
  }
}

function readOpResult(r: ByteReader): KvOpResult {
  const tag = r.u8();
  switch (tag) {
    case OP_PUT:
      return { op: 'put', prev: requireDefined(r, readOptionalRecord(r)) };
    case OP_DELETE:
      return { op: 'delete', prev: requireDefined(r, readOptionalRecord(r)) };
    case OP_DELETE_RANGE:
      return { op: 'deleteRange', deleted: r.uvarint() };
    case OP_GET:
      return { op: 'get', value: requireDefined(r, readOptionalRecord(r)) };
    default:
      return r.fail(`bad op result tag ${tag}`);
  }
}

function requireDefined<T>(r: ByteReader, v: T | undefined): T {
  return v === undefined ? r.fail('required record missing') : v;
}

function readBool(r: ByteReader): boolean {
  const b = r.u8();
  if (b > 1) r.fail(`bad boolean ${b}`);
  return b === 1;
}
