/**
 * What the state machine keeps per key, and its stored encoding (the same bytes in the memory
 * and LMDB tables, so both produce identical snapshot images).
 */
import type { ByteReader, ByteWriter } from '../util/byte-codec.ts';

export interface KvRecord {
  readonly value: Uint8Array;
  /** Revision (Raft index) of the put that created the key (since it was last absent). */
  readonly createRevision: number;
  /** Revision of the last put to the key. */
  readonly modRevision: number;
  /** Number of puts since the key was created: 1 on creation. */
  readonly version: number;
}

export function writeRecord(w: ByteWriter, rec: KvRecord): ByteWriter {
  return w.bytes(rec.value).uvarint(rec.createRevision).uvarint(rec.modRevision).uvarint(rec.version);
}

export function readRecord(r: ByteReader): KvRecord {
  return { value: r.bytes(), createRevision: r.uvarint(), modRevision: r.uvarint(), version: r.uvarint() };
}

// Optional records keep three states (absent, null, record) so that a cached session result
// comes back exactly as it was first returned.
const ABSENT = 0;
const NULL = 1;
const PRESENT = 2;

export function writeOptionalRecord(w: ByteWriter, rec: KvRecord | null | undefined): void {
  if (rec === undefined) w.u8(ABSENT);
  else if (rec === null) w.u8(NULL);
  else writeRecord(w.u8(PRESENT), rec);
}

export function readOptionalRecord(r: ByteReader): KvRecord | null | undefined {
  const tag = r.u8();
  if (tag === ABSENT) return undefined;
  if (tag === NULL) return null;
  if (tag === PRESENT) return readRecord(r);
  return r.fail(`bad optional-record tag ${tag}`);
}

/** The record a put leaves: a new life of the key if it was absent, else the next version. */
export function nextRecord(current: KvRecord | null, value: Uint8Array, revision: number): KvRecord {
  return current === null
    ? { value, createRevision: revision, modRevision: revision, version: 1 }
    : { value, createRevision: current.createRevision, modRevision: revision, version: current.version + 1 };
}
