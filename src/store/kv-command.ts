/**
 * Commands of the key-value state machine, their results, and the command encoding that goes
 * into log entries. Keys and values are raw bytes. Encoding is hand-written so that a command
 * always encodes to the same bytes, and validated on encode so that an oversized or empty-keyed
 * command is refused at the proposer instead of being committed to every replica's log.
 */
import { TesseraError } from '../errors.ts';
import { MAX_ENTRY_BYTES, MAX_KEY_BYTES } from '../limits.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';

/** Exactly-once identity: a client numbers its commands; a retry reuses the number. */
export interface KvSession {
  readonly client: string;
  readonly seq: number;
}

export type KvCommand =
  | { readonly op: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly session?: KvSession }
  | { readonly op: 'delete'; readonly key: Uint8Array; readonly session?: KvSession }
  | {
      readonly op: 'cas';
      readonly key: Uint8Array;
      /** The value the key must hold for the swap to happen; null = the key must be absent. */
      readonly expected: Uint8Array | null;
      readonly value: Uint8Array;
      readonly session?: KvSession;
    }
  /** A read through the log: linearizable by construction, and handy in tests. */
  | { readonly op: 'get'; readonly key: Uint8Array; readonly session?: KvSession };

export interface KvRecord {
  readonly value: Uint8Array;
  /** Raft index of the put that created the key (since it was last absent). */
  readonly createRevision: number;
  /** Raft index of the last put to the key. */
  readonly modRevision: number;
  /** Number of puts since the key was created: 1 on creation. */
  readonly version: number;
}

export type KvResult =
  | {
      readonly ok: true;
      /** Raft index of the command's entry. */
      readonly revision: number;
      /** put / delete / cas: the record before the command (null = was absent). */
      readonly prev?: KvRecord | null;
      /** get: the record read (null = absent). */
      readonly value?: KvRecord | null;
    }
  | { readonly ok: false; readonly reason: 'compare_failed'; readonly current: KvRecord | null }
  /** The command is older than the client's latest: a delayed duplicate, not applied. */
  | { readonly ok: false; readonly reason: 'session_stale' };

const OP_PUT = 1;
const OP_DELETE = 2;
const OP_CAS = 3;
const OP_GET = 4;
const HAS_SESSION = 0x80;

export function encodeCommand(cmd: KvCommand): Uint8Array {
  validateKey(cmd.key);
  if (cmd.session) validateSession(cmd.session);
  const w = new ByteWriter(cmd.key.length + 16 + ('value' in cmd ? cmd.value.length : 0));
  const tag = opTag(cmd.op);
  w.u8(cmd.session ? tag | HAS_SESSION : tag);
  if (cmd.session) w.string(cmd.session.client).uvarint(cmd.session.seq);
  w.bytes(cmd.key);
  switch (cmd.op) {
    case 'put':
      w.bytes(cmd.value);
      break;
    case 'cas':
      if (cmd.expected === null) w.u8(0);
      else w.u8(1).bytes(cmd.expected);
      w.bytes(cmd.value);
      break;
    case 'delete':
    case 'get':
      break;
  }
  if (w.length > MAX_ENTRY_BYTES) {
    throw new TesseraError('ENTRY_TOO_LARGE', `command is ${w.length} bytes, limit ${MAX_ENTRY_BYTES}`);
  }
  return w.finish();
}

/** Throws INVALID_ARGUMENT on malformed bytes, and the encode-time errors on invalid contents. */
export function decodeCommand(data: Uint8Array): KvCommand {
  const r = new ByteReader(data, 'kv command', 'INVALID_ARGUMENT');
  const first = r.u8();
  const session = first & HAS_SESSION ? { client: r.string(), seq: r.uvarint() } : undefined;
  const key = r.bytes();
  let cmd: KvCommand;
  switch (first & ~HAS_SESSION) {
    case OP_PUT:
      cmd = { op: 'put', key, value: r.bytes() };
      break;
    case OP_DELETE:
      cmd = { op: 'delete', key };
      break;
    case OP_CAS: {
      const flag = r.u8();
      if (flag > 1) r.fail(`bad cas flag ${flag}`);
      const expected = flag === 1 ? r.bytes() : null;
      cmd = { op: 'cas', key, expected, value: r.bytes() };
      break;
    }
    case OP_GET:
      cmd = { op: 'get', key };
      break;
    default:
      return r.fail(`unknown op ${first & ~HAS_SESSION}`);
  }
  r.end();
  validateKey(key);
  if (session) {
    validateSession(session);
    cmd = { ...cmd, session };
  }
  return cmd;
}

export function validateKey(key: Uint8Array): void {
  if (key.length === 0) throw new TesseraError('EMPTY_KEY', 'key is empty');
  if (key.length > MAX_KEY_BYTES) {
    throw new TesseraError('KEY_TOO_LONG', `key is ${key.length} bytes, limit ${MAX_KEY_BYTES}`);
  }
}

function validateSession(s: KvSession): void {
  if (s.client.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'session client id is empty');
  if (!Number.isSafeInteger(s.seq) || s.seq < 0) {
    throw new TesseraError('INVALID_ARGUMENT', `session seq must be a non-negative integer, got ${s.seq}`);
  }
}

function opTag(op: KvCommand['op']): number {
  switch (op) {
    case 'put':
      return OP_PUT;
    case 'delete':
      return OP_DELETE;
    case 'cas':
      return OP_CAS;
    case 'get':
      return OP_GET;
  }
}
