/**
 * Stored form of the LMDB log store's records. Every value is sealed with a CRC-32C over its
 * key and payload, checked on every read: LMDB guards its own structure, not our bytes against a
 * flipped bit on disk, and a checksum that covers the key also catches a value under the wrong
 * index. A mismatch is CORRUPTION naming the record; the bytes are never returned.
 */
import { TesseraError } from '../errors.ts';
import { EntryType, type Entry, type HardState, type NodeId, type SnapshotMeta } from '../raft/types.ts';
import { allocBytes } from '../util/alloc.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { crc32c } from '../util/crc32c.ts';
import { u64be } from '../util/u64be.ts';

export const entryKey = u64be;

/** A key the entries table never holds (its keys are all 8 bytes long). */
export const ABSENT_ENTRY_KEY: Uint8Array = new Uint8Array(9).fill(0xff);

export interface StoreIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
}

function seal(key: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = allocBytes(4 + payload.length);
  putU32le(out, crc32c(payload, crc32c(key)));
  out.set(payload, 4);
  return out;
}

function unseal(key: Uint8Array, value: Uint8Array, what: string): Uint8Array {
  if (value.length < 4) throw new TesseraError('CORRUPTION', `${what}: ${value.length}-byte record is too short`);
  const stored = (value[0]! | (value[1]! << 8) | (value[2]! << 16)) + value[3]! * 0x1000000;
  const payload = value.subarray(4);
  if (stored !== crc32c(payload, crc32c(key))) throw new TesseraError('CORRUPTION', `${what}: checksum mismatch`);
  return payload;
}

export function encodeEntry(e: Entry): Uint8Array {
  // The same bytes as seal(key, header ++ data), built with one copy of the (maybe megabyte) data.
  const header = new ByteWriter(12).uvarint(e.term).u8(e.type).finish();
  const out = allocBytes(4 + header.length + e.data.length);
  out.set(header, 4);
  out.set(e.data, 4 + header.length);
  putU32le(out, crc32c(out.subarray(4), crc32c(entryKey(e.index))));
  return out;
}

function putU32le(b: Uint8Array, n: number): void {
  b[0] = n & 0xff;
  b[1] = (n >>> 8) & 0xff;
  b[2] = (n >>> 16) & 0xff;
  b[3] = n >>> 24;
}

export function decodeEntry(index: number, value: Uint8Array): Entry {
  const what = `log entry ${index}`;
  const r = new ByteReader(unseal(entryKey(index), value, what), what, 'CORRUPTION');
  const term = r.uvarint();
  const type = r.u8();
  if (type !== EntryType.Normal && type !== EntryType.Empty) r.fail(`bad entry type ${type}`);
  return { index, term, type, data: r.rest() };
}

export function encodeHardState(key: Uint8Array, hs: HardState): Uint8Array {
  return seal(key, new ByteWriter(16).uvarint(hs.term).uvarint(hs.vote).uvarint(hs.commit).finish());
}

export function decodeHardState(key: Uint8Array, value: Uint8Array): HardState {
  const r = new ByteReader(unseal(key, value, 'hard state'), 'hard state', 'CORRUPTION');
  const hs = { term: r.uvarint(), vote: r.uvarint(), commit: r.uvarint() };
  r.end();
  return hs;
}

export function encodeSnapshotMeta(key: Uint8Array, m: SnapshotMeta): Uint8Array {
  const w = new ByteWriter(32).uvarint(m.index).uvarint(m.term);
  for (const ids of [m.conf.voters, m.conf.learners]) {
    w.uvarint(ids.length);
    for (const id of ids) w.uvarint(id);
  }
  return seal(key, w.finish());
}

export function decodeSnapshotMeta(key: Uint8Array, value: Uint8Array): SnapshotMeta {
  const r = new ByteReader(unseal(key, value, 'snapshot metadata'), 'snapshot metadata', 'CORRUPTION');
  const index = r.uvarint();
  const term = r.uvarint();
  const [voters, learners] = [readIds(r), readIds(r)];
  r.end();
  return { index, term, conf: { voters, learners } };
}

export function encodeIdentity(key: Uint8Array, id: StoreIdentity): Uint8Array {
  return seal(key, new ByteWriter(32).string(id.clusterId).uvarint(id.nodeId).finish());
}

export function decodeIdentity(key: Uint8Array, value: Uint8Array): StoreIdentity {
  const r = new ByteReader(unseal(key, value, 'store identity'), 'store identity', 'CORRUPTION');
  const id = { clusterId: r.string(), nodeId: r.uvarint() };
  r.end();
  return id;
}

function readIds(r: ByteReader): NodeId[] {
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`id count ${n} exceeds remaining bytes`);
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) ids.push(r.uvarint());
  return ids;
}
