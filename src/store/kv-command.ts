/**
 * Commands of the key-value state machine and the encoding that goes into log entries. Keys and
 * values are raw bytes. Encoding is hand-written so that a command always encodes to the same
 * bytes, and validated on encode so that an invalid command is refused at the proposer instead
 * of being committed to every replica's log (decode validates again: a log is input too).
 */
import { TesseraError } from '../errors.ts';
import { MAX_ENTRY_BYTES, MAX_KEY_BYTES } from '../limits.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { compareBytes } from '../util/bytes.ts';
import { MAX_CLIENT_ID_BYTES, MAX_TXN_OPS } from './kv-limits.ts';
import { MODEL_OPS, readModelBody, validateModelCommand, writeModelBody, type ModelCommand } from './model-command.ts';

export type { KvRecord } from './kv-record.ts';
export type { KvOpResult, KvResult } from './kv-result.ts';

/**
 * Exactly-once identity. A client numbers its commands from 1; a retry reuses the number.
 * `since` names the session: a revision the client observed before its first command (0 if it
 * observed none). All commands of a session carry the same `since`; see kv-sessions.ts for why
 * this makes expiry safe. Omitted means 0.
 */
export interface KvSession {
  readonly client: string;
  readonly seq: number;
  readonly since?: number;
}

export type KvCompareOp = '=' | '!=' | '<' | '>';

/**
 * One condition of a txn. An absent key has version, createRevision and modRevision 0, and as a
 * value it is `null`, which orders before every present value (even the empty one).
 */
export type KvCompare =
  | { readonly key: Uint8Array; readonly target: 'value'; readonly op: KvCompareOp; readonly value: Uint8Array | null }
  | {
      readonly key: Uint8Array;
      readonly target: 'version' | 'createRevision' | 'modRevision';
      readonly op: KvCompareOp;
      readonly value: number;
    };

/** An op of a txn branch; ops run in order and each sees the effects of those before it. */
export type KvTxnOp =
  | { readonly op: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: Uint8Array }
  /** Deletes every key in [start, end); end null = no upper bound. */
  | { readonly op: 'deleteRange'; readonly start: Uint8Array; readonly end: Uint8Array | null }
  | { readonly op: 'get'; readonly key: Uint8Array };

/**
 * What a cas compares: the value (null = the key must be absent), or one of the key's numbers
 * (0 = absent, as in etcd).
 */
export type KvCasExpected =
  | Uint8Array
  | null
  | { readonly version: number }
  | { readonly createRevision: number }
  | { readonly modRevision: number };

export type KvCommand = (
  /**
   * withoutPrev: the result's prev is null whatever the key held (the client's default; etcd's
   * prevKv is opt-in likewise). A replica caches each session's last result for retries, so a
   * prev nobody asked for would be kept, and copied to the client, with every overwrite.
   */
  | { readonly op: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly withoutPrev?: boolean }
  | { readonly op: 'delete'; readonly key: Uint8Array }
  | { readonly op: 'deleteRange'; readonly start: Uint8Array; readonly end: Uint8Array | null }
  | { readonly op: 'cas'; readonly key: Uint8Array; readonly expected: KvCasExpected; readonly value: Uint8Array }
  /** All or nothing: if every compare holds, `success` runs, else `failure` (etcd's Txn). */
  | {
      readonly op: 'txn';
      readonly compares: readonly KvCompare[];
      readonly success: readonly KvTxnOp[];
      readonly failure: readonly KvTxnOp[];
    }
  /** A read through the log: linearizable by construction, and handy in tests. */
  | { readonly op: 'get'; readonly key: Uint8Array }
  | ModelCommand
) & { readonly session?: KvSession };

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_CAS = 3;
const OP_GET = 4;
const OP_DELETE_RANGE = 5;
const OP_TXN = 6;
/** Model commands take the tags after the key-value ones, in MODEL_OPS order. */
const OP_FIRST_MODEL = 7;
const HAS_SESSION = 0x80;
/** On a put's tag only (absent in logs written before it existed: those puts return prev). */
const WITHOUT_PREV = 0x40;
const TAG_MASK = 0x3f;
if (OP_FIRST_MODEL + MODEL_OPS.length - 1 > TAG_MASK) throw new Error('kv command tags overflow into the flag bits');

const EXPECT_ABSENT = 0;
const EXPECT_VALUE = 1;
const EXPECT_VERSION = 2;
const EXPECT_CREATE = 3;
const EXPECT_MOD = 4;

const TARGETS = ['value', 'version', 'createRevision', 'modRevision'] as const;
const COMPARE_OPS: readonly KvCompareOp[] = ['=', '!=', '<', '>'];

/**
 * `session` (default: cmd.session) is the session the command is encoded under: a client encodes
 * one command under a new session number at each attempt, without building a copy of it each time.
 */
export function encodeCommand(cmd: KvCommand, session: KvSession | undefined = cmd.session): Uint8Array {
  if (session) validateSession(session);
  validateOp(cmd);
  // Chunk puts carry a megabyte: size the buffer once, and hand it over without a copy.
  const w = new ByteWriter(cmd.op === 'chunkPut' ? cmd.data.length + 256 : 64);
  const tag = opTag(cmd.op) | (cmd.op === 'put' && cmd.withoutPrev === true ? WITHOUT_PREV : 0);
  w.u8(session ? tag | HAS_SESSION : tag);
  if (session) w.string(session.client).uvarint(session.seq).uvarint(session.since ?? 0);
  switch (cmd.op) {
    case 'put':
    case 'delete':
    case 'get':
    case 'deleteRange':
      writeOpBody(w, cmd);
      break;
    case 'cas':
      w.bytes(cmd.key);
      writeExpected(w, cmd.expected);
      w.bytes(cmd.value);
      break;
    case 'txn':
      w.uvarint(cmd.compares.length);
      for (const c of cmd.compares) writeCompare(w, c);
      writeOps(w, cmd.success);
      writeOps(w, cmd.failure);
      break;
    default:
      writeModelBody(w, cmd);
  }
  if (w.length > MAX_ENTRY_BYTES) {
    throw new TesseraError('ENTRY_TOO_LARGE', `command is ${w.length} bytes, limit ${MAX_ENTRY_BYTES}`);
  }
  return w.finishOwned();
}

/** Throws INVALID_ARGUMENT on malformed bytes, and the encode-time errors on invalid contents. */
export function decodeCommand(data: Uint8Array): KvCommand {
  const r = new ByteReader(data, 'kv command', 'INVALID_ARGUMENT');
  const first = r.u8();
  let session: KvSession | undefined;
  if (first & HAS_SESSION) {
    const client = r.string();
    const seq = r.uvarint();
    const since = r.uvarint();
    session = since === 0 ? { client, seq } : { client, seq, since };
  }
  let cmd: KvCommand;
  const tag = first & TAG_MASK;
  if (first & WITHOUT_PREV && tag !== OP_PUT) r.fail(`op ${tag} has the flag of a put without prev`);
  switch (tag) {
    case OP_PUT:
    case OP_DELETE:
    case OP_GET:
    case OP_DELETE_RANGE:
      cmd = readOpBody(r, tag);
      break;
    case OP_CAS: {
      const key = r.bytes();
      const expected = readExpected(r);
      cmd = { op: 'cas', key, expected, value: r.bytes() };
      break;
    }
    case OP_TXN: {
      const compares: KvCompare[] = [];
      const n = count(r);
      for (let i = 0; i < n; i++) compares.push(readCompare(r));
      const success = readOps(r);
      cmd = { op: 'txn', compares, success, failure: readOps(r) };
      break;
    }
    default: {
      const modelOp = MODEL_OPS[tag - OP_FIRST_MODEL] ?? r.fail(`unknown op ${tag}`);
      cmd = readModelBody(r, modelOp);
    }
  }
  r.end();
  // Set on the object just built rather than spread into a copy: every entry a node applies is
  // decoded, and each copy cost as much as reading the fields.
  const extra = cmd as { withoutPrev?: boolean; session?: KvSession };
  if (first & WITHOUT_PREV) extra.withoutPrev = true;
  if (session) {
    validateSession(session);
    extra.session = session;
  }
  validateOp(cmd);
  return cmd;
}

export function validateKey(key: Uint8Array): void {
  if (key.length === 0) throw new TesseraError('EMPTY_KEY', 'key is empty');
  if (key.length > MAX_KEY_BYTES) {
    throw new TesseraError('KEY_TOO_LONG', `key is ${key.length} bytes, limit ${MAX_KEY_BYTES}`);
  }
}

/** A range [start, end): start a valid key, end null (unbounded) or a valid key after start. */
export function validateRange(start: Uint8Array, end: Uint8Array | null): void {
  validateKey(start);
  if (end === null) return;
  validateKey(end);
  if (compareBytes(start, end) >= 0) throw new TesseraError('INVALID_ARGUMENT', 'range end must be after its start');
}

/** The command's op and its operands; its session is validated on its own (validateSession). */
function validateOp(cmd: KvCommand): void {
  switch (cmd.op) {
    case 'put':
    case 'delete':
    case 'get':
      return validateKey(cmd.key);
    case 'deleteRange':
      return validateRange(cmd.start, cmd.end);
    case 'cas':
      validateKey(cmd.key);
      if (cmd.expected !== null && !(cmd.expected instanceof Uint8Array)) validateCount(expectedNumber(cmd.expected));
      return;
    case 'txn':
      for (const [what, n] of [
        ['compares', cmd.compares.length],
        ['success ops', cmd.success.length],
        ['failure ops', cmd.failure.length],
      ] as const) {
        if (n > MAX_TXN_OPS) throw new TesseraError('INVALID_ARGUMENT', `txn has ${n} ${what}, limit ${MAX_TXN_OPS}`);
      }
      for (const c of cmd.compares) {
        validateKey(c.key);
        if (!TARGETS.includes(c.target) || !COMPARE_OPS.includes(c.op)) {
          throw new TesseraError('INVALID_ARGUMENT', `bad compare ${c.target} ${c.op}`);
        }
        if (c.target !== 'value') validateCount(c.value);
      }
      for (const op of [...cmd.success, ...cmd.failure]) {
        if (op.op === 'deleteRange') validateRange(op.start, op.end);
        else validateKey(op.key);
      }
      return;
    default:
      return validateModelCommand(cmd);
  }
}

function validateSession(s: KvSession): void {
  if (s.client.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'session client id is empty');
  // Counted the way utf8() encodes (a lone surrogate as 3 bytes), without encoding; no UTF-16
  // unit takes more than 3 bytes, so a short id (every command carries one) needs no count.
  const bytes = s.client.length * 3 <= MAX_CLIENT_ID_BYTES ? 0 : Buffer.byteLength(s.client, 'utf8');
  if (bytes > MAX_CLIENT_ID_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `session client id is ${bytes} bytes, limit ${MAX_CLIENT_ID_BYTES}`);
  }
  if (!Number.isSafeInteger(s.seq) || s.seq < 1) {
    throw new TesseraError('INVALID_ARGUMENT', `session seq must be an integer >= 1, got ${s.seq}`);
  }
  if (s.since !== undefined) validateCount(s.since);
}

function validateCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    // JSON quotes a string, so '1' does not read as the number 1.
    throw new TesseraError('INVALID_ARGUMENT', `expected a non-negative integer, got ${typeof n === 'number' ? n : JSON.stringify(n)}`);
  }
}

function expectedNumber(e: Exclude<KvCasExpected, Uint8Array | null>): number {
  return 'version' in e ? e.version : 'createRevision' in e ? e.createRevision : e.modRevision;
}

function writeExpected(w: ByteWriter, e: KvCasExpected): void {
  if (e === null) w.u8(EXPECT_ABSENT);
  else if (e instanceof Uint8Array) w.u8(EXPECT_VALUE).bytes(e);
  else if ('version' in e) w.u8(EXPECT_VERSION).uvarint(e.version);
  else if ('createRevision' in e) w.u8(EXPECT_CREATE).uvarint(e.createRevision);
  else w.u8(EXPECT_MOD).uvarint(e.modRevision);
}

function readExpected(r: ByteReader): KvCasExpected {
  const kind = r.u8();
  switch (kind) {
    case EXPECT_ABSENT:
      return null;
    case EXPECT_VALUE:
      return r.bytes();
    case EXPECT_VERSION:
      return { version: r.uvarint() };
    case EXPECT_CREATE:
      return { createRevision: r.uvarint() };
    case EXPECT_MOD:
      return { modRevision: r.uvarint() };
    default:
      return r.fail(`bad cas expectation ${kind}`);
  }
}

function writeCompare(w: ByteWriter, c: KvCompare): void {
  w.bytes(c.key).u8(TARGETS.indexOf(c.target)).u8(COMPARE_OPS.indexOf(c.op));
  if (c.target !== 'value') w.uvarint(c.value);
  else if (c.value === null) w.u8(0);
  else w.u8(1).bytes(c.value);
}

function readCompare(r: ByteReader): KvCompare {
  const key = r.bytes();
  const target = TARGETS[r.u8()] ?? r.fail('bad compare target');
  const op = COMPARE_OPS[r.u8()] ?? r.fail('bad compare op');
  if (target !== 'value') return { key, target, op, value: r.uvarint() };
  const present = r.u8();
  if (present > 1) r.fail(`bad compare value flag ${present}`);
  return { key, target, op, value: present === 1 ? r.bytes() : null };
}

function writeRange(w: ByteWriter, start: Uint8Array, end: Uint8Array | null): void {
  w.bytes(start);
  if (end === null) w.u8(0);
  else w.u8(1).bytes(end);
}

function readRange(r: ByteReader): { start: Uint8Array; end: Uint8Array | null } {
  const start = r.bytes();
  const hasEnd = r.u8();
  if (hasEnd > 1) r.fail(`bad range end flag ${hasEnd}`);
  return { start, end: hasEnd === 1 ? r.bytes() : null };
}

function writeOps(w: ByteWriter, ops: readonly KvTxnOp[]): void {
  w.uvarint(ops.length);
  for (const op of ops) {
    w.u8(opTag(op.op));
    writeOpBody(w, op);
  }
}

/** The body of an op that is both a command and a txn op (its tag is written by the caller). */
function writeOpBody(w: ByteWriter, op: KvTxnOp): void {
  switch (op.op) {
    case 'put':
      w.bytes(op.key).bytes(op.value);
      break;
    case 'delete':
    case 'get':
      w.bytes(op.key);
      break;
    case 'deleteRange':
      writeRange(w, op.start, op.end);
      break;
  }
}

/** Reads what writeOpBody wrote for `tag`; the caller has checked the tag is one of the four. */
function readOpBody(r: ByteReader, tag: number): KvTxnOp {
  switch (tag) {
    case OP_PUT:
      return { op: 'put', key: r.bytes(), value: r.bytes() };
    case OP_DELETE:
      return { op: 'delete', key: r.bytes() };
    case OP_GET:
      return { op: 'get', key: r.bytes() };
    default: {
      const { start, end } = readRange(r);
      return { op: 'deleteRange', start, end };
    }
  }
}

function readOps(r: ByteReader): KvTxnOp[] {
  const ops: KvTxnOp[] = [];
  const n = count(r);
  for (let i = 0; i < n; i++) {
    const tag = r.u8();
    if (tag !== OP_PUT && tag !== OP_DELETE && tag !== OP_GET && tag !== OP_DELETE_RANGE) return r.fail(`bad txn op ${tag}`);
    ops.push(readOpBody(r, tag));
  }
  return ops;
}

/** A count that cannot exceed what the remaining bytes could hold (at least one byte per item). */
function count(r: ByteReader): number {
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`count ${n} exceeds remaining ${r.remaining} bytes`);
  return n;
}

function opTag(op: KvCommand['op'] | KvTxnOp['op']): number {
  switch (op) {
    case 'put':
      return OP_PUT;
    case 'delete':
      return OP_DELETE;
    case 'cas':
      return OP_CAS;
    case 'get':
      return OP_GET;
    case 'deleteRange':
      return OP_DELETE_RANGE;
    case 'txn':
      return OP_TXN;
    default:
      return OP_FIRST_MODEL + MODEL_OPS.indexOf(op);
  }
}
