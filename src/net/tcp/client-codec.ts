/**
 * Frames of the client protocol (client-protocol.ts): the preamble, requests and responses, as
 * MessagePack maps. Decoding is written for a hostile sender: anything but the exact shape fails
 * with PROTOCOL_ERROR (msgpackr's own errors included), never with another exception.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TesseraError, type TesseraErrorCode } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import { CLIENT_OPS, CLIENT_PREAMBLE_TAG, MAX_CLIENT_FRAME_BYTES, type ClientOp, type ClientRequest, type OpArgs, type OpResult, type WireError } from './client-protocol.ts';
import { OP_CODECS } from './client-values.ts';
import { encodeFrame } from './frame.ts';
import { HANDSHAKE_MAX_FRAME_BYTES } from './handshake-messages.ts';
import { bool, protocolError, str, uint } from './wire-schema.ts';

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** Every code, so that one from the wire can be checked (the type alone vanishes at run time). */
const ERROR_CODES: Readonly<Record<TesseraErrorCode, true>> = Object.freeze({
  NOT_LEADER: true,
  NO_LEADER: true,
  PROPOSAL_DROPPED: true,
  UNCOMMITTED_LIMIT: true,
  OVERLOADED: true,
  ENTRY_TOO_LARGE: true,
  KEY_TOO_LONG: true,
  EMPTY_KEY: true,
  MESSAGE_TOO_LARGE: true,
  TIMEOUT: true,
  CLOSED: true,
  CORRUPTION: true,
  COMPACTED: true,
  UNAVAILABLE: true,
  SESSION_STALE: true,
  INVALID_ARGUMENT: true,
  INVARIANT: true,
  IDENTITY_MISMATCH: true,
  SESSION_EXPIRED: true,
  INVALID_FORMAT: true,
  NOT_FOUND: true,
  CONFLICT: true,
  AUTH_FAILED: true,
  PROTOCOL_ERROR: true,
});

const OPS: ReadonlySet<string> = new Set(CLIENT_OPS);

function unpack(payload: Uint8Array, what: string): unknown {
  try {
    return unpackr.unpack(payload);
  } catch (e) {
    throw new TesseraError('PROTOCOL_ERROR', `${what} is not MessagePack: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** A plain object with exactly these keys (in any order). */
function fields(value: unknown, keys: readonly string[], what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) throw protocolError(`${what}: expected a map`);
  const got = Object.keys(value);
  if (got.length !== keys.length || !keys.every((k) => Object.hasOwn(value, k))) throw protocolError(`${what}: expected the fields ${keys.join(', ')}`);
  return value as Record<string, unknown>;
}

function frame(wire: unknown): Uint8Array {
  return encodeFrame(packr.pack(wire), MAX_CLIENT_FRAME_BYTES);
}

// --- preamble ---

export function encodePreamble(version: number, clusterId: string): Uint8Array {
  return encodeFrame(packr.pack([CLIENT_PREAMBLE_TAG, version, clusterId]), HANDSHAKE_MAX_FRAME_BYTES);
}

/**
 * The client preamble in a connection's first frame, or null if the frame is something else
 * (a peer's handshake hello). Throws PROTOCOL_ERROR for a malformed preamble.
 */
export function decodePreamble(payload: Uint8Array): { readonly version: number; readonly clusterId: string } | null {
  let value: unknown;
  try {
    value = unpackr.unpack(payload);
  } catch {
    return null; // not ours to judge: the peer protocol will refuse it
  }
  if (!Array.isArray(value) || value[0] !== CLIENT_PREAMBLE_TAG) return null;
  if (value.length !== 3) throw protocolError('client preamble: expected an array of 3');
  return { version: uint(value[1], 'client preamble.version'), clusterId: str(value[2], 'client preamble.clusterId') };
}

// --- requests ---

/** The frame of a request. Throws MESSAGE_TOO_LARGE if it exceeds MAX_CLIENT_FRAME_BYTES. */
export function encodeRequest<K extends ClientOp>(id: number, op: K, args: OpArgs<K>): Uint8Array {
  const codec = OP_CODECS[op].args as { toWire(v: OpArgs<K>): unknown };
  return frame({ id, op, args: codec.toWire(args) });
}

export function decodeRequest(payload: Uint8Array): ClientRequest {
  const f = fields(unpack(payload, 'request'), ['id', 'op', 'args'], 'request');
  const id = uint(f.id, 'request.id');
  if (id === 0) throw protocolError('request.id: 0');
  const op = str(f.op, 'request.op');
  if (!OPS.has(op)) throw protocolError(`request.op: unknown op ${JSON.stringify(op.slice(0, 32))}`);
  return argsOf(id, op as ClientOp, f.args);
}

function argsOf<K extends ClientOp>(id: number, op: K, wire: unknown): ClientRequest<K> {
  const codec = OP_CODECS[op].args as { fromWire(w: unknown, what: string): OpArgs<K> };
  return { id, op, args: codec.fromWire(wire, `request.${op}`) };
}

// --- responses ---

export type RawResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown; readonly leader: NodeId }
  | { readonly id: number; readonly ok: false; readonly error: WireError; readonly leader: NodeId };

export function encodeResult<K extends ClientOp>(id: number, op: K, value: OpResult<K>, leader: NodeId): Uint8Array {
  const codec = OP_CODECS[op].result as { toWire(v: OpResult<K>): unknown };
  return frame({ id, ok: true, value: codec.toWire(value), leader });
}

export function encodeError(id: number, error: WireError, leader: NodeId): Uint8Array {
  return frame({ id, ok: false, error: { code: error.code, message: error.message, leaderHint: error.leaderHint }, leader });
}

/** Decodes the envelope; the value is checked by resultOf, which knows the op. */
export function decodeResponse(payload: Uint8Array): RawResponse {
  const raw = unpack(payload, 'response');
  const ok = bool(typeof raw === 'object' && raw !== null ? (raw as { ok?: unknown }).ok : undefined, 'response.ok');
  if (ok) {
    const f = fields(raw, ['id', 'ok', 'value', 'leader'], 'response');
    return { id: uint(f.id, 'response.id'), ok, value: f.value, leader: uint(f.leader, 'response.leader') };
  }
  const f = fields(raw, ['id', 'ok', 'error', 'leader'], 'response');
  const e = fields(f.error, ['code', 'message', 'leaderHint'], 'response.error');
  const code = str(e.code, 'response.error.code');
  if (!Object.hasOwn(ERROR_CODES, code)) throw protocolError(`response.error.code: unknown code ${JSON.stringify(code.slice(0, 32))}`);
  const error: WireError = { code: code as TesseraErrorCode, message: str(e.message, 'response.error.message'), leaderHint: uint(e.leaderHint, 'response.error.leaderHint') };
  return { id: uint(f.id, 'response.id'), ok, error, leader: uint(f.leader, 'response.leader') };
}

export function resultOf<K extends ClientOp>(op: K, wire: unknown): OpResult<K> {
  const codec = OP_CODECS[op].result as { fromWire(w: unknown, what: string): OpResult<K> };
  return codec.fromWire(wire, `response.${op}`);
}

// --- errors ---

/** A failure as it crosses the wire: a TesseraError keeps its code and hint; anything else is a bug (INVARIANT). */
export function errorToWire(e: unknown): WireError {
  if (e instanceof TesseraError) {
    const prefix = `${e.code}: `;
    return { code: e.code, message: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, leaderHint: e.leaderHint };
  }
  return { code: 'INVARIANT', message: `the node failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`, leaderHint: 0 };
}

export function errorFromWire(w: WireError): TesseraError {
  return new TesseraError(w.code, w.message, { leaderHint: w.leaderHint });
}
