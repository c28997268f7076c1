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
    }
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

const HAS_PREV = 1;
const HAS_VALUE = 2;
const HAS_DELETED = 4;
const HAS_SUCCEEDED = 8;
const HAS_RESULTS = 16;

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DELETE_RANGE = 3;
const OP_GET = 4;

export function encodeResult(res: KvResult): Uint8Array {
  const w = new ByteWriter(64);
  writeResult(w, res);
  return w.finish();
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
    } else if (res.reason === 'session_stale') {
      w.u8(RESULT_SESSION_STALE);
    } else {
      w.u8(RESULT_SESSION_EXPIRED).uvarint(res.horizon);
    }
    return;
  }
  const flags =
    (res.prev !== undefined ? HAS_PREV : 0) |
    (res.value !== undefined ? HAS_VALUE : 0) |
    (res.deleted !== undefined ? HAS_DELETED : 0) |
    (res.succeeded !== undefined ? HAS_SUCCEEDED : 0) |
    (res.results !== undefined ? HAS_RESULTS : 0);
  w.u8(RESULT_OK).uvarint(res.revision).u8(flags);
  if (res.prev !== undefined) writeOptionalRecord(w, res.prev);
  if (res.value !== undefined) writeOptionalRecord(w, res.value);
  if (res.deleted !== undefined) w.uvarint(res.deleted);
  if (res.succeeded !== undefined) w.u8(res.succeeded ? 1 : 0);
  if (res.results !== undefined) {
    w.uvarint(res.results.length);
    for (const op of res.results) writeOpResult(w, op);
  }
}

function readResult(r: ByteReader): KvResult {
  const tag = r.u8();
  switch (tag) {
    case RESULT_OK: {
      const revision = r.uvarint();
      const flags = r.u8();
      if (flags & ~(HAS_PREV | HAS_VALUE | HAS_DELETED | HAS_SUCCEEDED | HAS_RESULTS)) r.fail(`bad result flags ${flags}`);
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
      return out;
    }
    case RESULT_COMPARE_FAILED:
      return { ok: false, reason: 'compare_failed', current: requireDefined(r, readOptionalRecord(r)) };
    case RESULT_SESSION_STALE:
      return { ok: false, reason: 'session_stale' };
    case RESULT_SESSION_EXPIRED:
      return { ok: false, reason: 'session_expired', horizon: r.uvarint() };
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
