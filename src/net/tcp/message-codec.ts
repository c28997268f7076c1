/**
 * A Raft `Message` as the payload of a frame: MessagePack (msgpackr) of a fixed-position array,
 * checked field by field on the way in.
 *
 *   [type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, context, chunk]
 *   entry    = [term, index, entryType, data]
 *   snapshot = null | [meta, data]           meta = [index, term, voters[], learners[]]
 *   chunk    = null | [transfer, seq, last, meta, data]
 *
 * Arrays rather than maps: every field is present, positional, and cheap to check; the wire
 * does not depend on property names. The message type travels as a string so a capture can be
 * read by any MessagePack tool. Bytes travel as MessagePack bin and come back as Uint8Array.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TesseraError } from '../../errors.ts';
import { EntryType, type ConfState, type Entry, type Message, type MessageType, type Snapshot, type SnapshotChunk, type SnapshotMeta } from '../../raft/types.ts';
import { encodeFrame } from './frame.ts';
import { bool, bytes, list, nodeId, protocolError, str, tuple, uint } from './wire-schema.ts';

/** Types that cross the wire; 'snapStatus' and 'unreachable' are local reports of a runtime to its core. */
export const WIRE_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
  'snapChunk',
  'snapChunkAck',
]);

const MESSAGE_FIELDS = 13;

// One fixed configuration on both ends: no records (structures), so the bytes are plain MessagePack.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** The frame (header included) carrying `m`. Throws MESSAGE_TOO_LARGE, INVALID_ARGUMENT (a local-only type). */
export function encodeMessageFrame(m: Message): Uint8Array {
  // packr's output is a view into a shared buffer of several messages (up to 4x the largest);
  // encodeFrame copies it into an exact-size frame, so a queued frame holds only its own bytes
  // and a queue's byte count is the memory it pins.
  return encodeFrame(packr.pack(toWire(m)));
}

/** The payload alone, in its own buffer. */
export function encodeMessage(m: Message): Uint8Array {
  return new Uint8Array(packr.pack(toWire(m)));
}

/**
 * Decodes and checks a payload. Throws PROTOCOL_ERROR for anything that is not a well-formed
 * wire message, whatever the bytes (msgpackr's own errors, even a stack overflow on deep
 * nesting, become PROTOCOL_ERROR). Byte fields are views into `payload`.
 */
export function decodeMessage(payload: Uint8Array): Message {
  let value: unknown;
  try {
    value = unpackr.unpack(payload);
  } catch (e) {
    throw new TesseraError('PROTOCOL_ERROR', `message is not MessagePack: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return fromWire(value);
}

function toWire(m: Message): unknown[] {
  if (!WIRE_MESSAGE_TYPES.has(m.type)) throw new TesseraError('INVALID_ARGUMENT', `message type ${m.type} is local and is never sent`);
  return [
    m.type,
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.entries.map((e) => [e.term, e.index, e.type, e.data]),
    m.commit,
    m.reject,
    m.rejectHint,
    m.snapshot === null ? null : [metaToWire(m.snapshot.meta), m.snapshot.data],
    m.context,
    m.chunk === null ? null : [m.chunk.transfer, m.chunk.seq, m.chunk.last, metaToWire(m.chunk.meta), m.chunk.data],
  ];
}

function metaToWire(meta: SnapshotMeta): unknown[] {
  return [meta.index, meta.term, [...meta.conf.voters], [...meta.conf.learners]];
}

function fromWire(value: unknown): Message {
  const f = tuple(value, MESSAGE_FIELDS, 'message');
  const type = str(f[0], 'message.type');
  if (!WIRE_MESSAGE_TYPES.has(type as MessageType)) throw protocolError(`message.type: ${JSON.stringify(type.slice(0, 32))} is not a wire message type`);
  return {
    type: type as MessageType,
    from: nodeId(f[1], 'message.from'),
    to: nodeId(f[2], 'message.to'),
    term: uint(f[3], 'message.term'),
    logTerm: uint(f[4], 'message.logTerm'),
    index: uint(f[5], 'message.index'),
    entries: list(f[6], 'message.entries').map(entryFromWire),
    commit: uint(f[7], 'message.commit'),
    reject: bool(f[8], 'message.reject'),
    rejectHint: uint(f[9], 'message.rejectHint'),
    snapshot: f[10] === null ? null : snapshotFromWire(f[10]),
    context: str(f[11], 'message.context'),
    chunk: f[12] === null ? null : chunkFromWire(f[12]),
  };
}

function entryFromWire(value: unknown): Entry {
  const f = tuple(value, 4, 'entry');
  const type = uint(f[2], 'entry.type');
  if (type !== EntryType.Normal && type !== EntryType.Empty) throw protocolError(`entry.type: unknown entry type ${type}`);
  return { term: uint(f[0], 'entry.term'), index: uint(f[1], 'entry.index'), type, data: bytes(f[3], 'entry.data') };
}

function snapshotFromWire(value: unknown): Snapshot {
  const f = tuple(value, 2, 'snapshot');
  return { meta: metaFromWire(f[0], 'snapshot.meta'), data: bytes(f[1], 'snapshot.data') };
}

function chunkFromWire(value: unknown): SnapshotChunk {
  const f = tuple(value, 5, 'chunk');
  return {
    transfer: str(f[0], 'chunk.transfer'),
    seq: uint(f[1], 'chunk.seq'),
    last: bool(f[2], 'chunk.last'),
    meta: metaFromWire(f[3], 'chunk.meta'),
    data: bytes(f[4], 'chunk.data'),
  };
}

function metaFromWire(value: unknown, what: string): SnapshotMeta {
  const f = tuple(value, 4, what);
  const conf: ConfState = {
    voters: list(f[2], `${what}.voters`).map((v) => nodeId(v, `${what}.voters`)),
    learners: list(f[3], `${what}.learners`).map((v) => nodeId(v, `${what}.learners`)),
  };
  return { index: uint(f[0], `${what}.index`), term: uint(f[1], `${what}.term`), conf };
}
