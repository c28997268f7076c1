/**
 * The state-machine image format: everything a replica needs to continue exactly where the
 * image was taken, sessions included (or a retried command would apply twice after a restore).
 * Deterministic: keys in byte order, sessions in client order, so two replicas at the same
 * applied index produce identical bytes, which the simulator compares. A CRC-32C trailer guards
 * the image in transit and at rest.
 */
import { TesseraError } from '../errors.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { compareBytes } from '../util/bytes.ts';
import { crc32c } from '../util/crc32c.ts';
import type { KvRecord, KvResult } from './kv-command.ts';

export interface KvImage {
  readonly appliedIndex: number;
  readonly appliedTerm: number;
  /** Sorted by key, byte order, no duplicates. */
  readonly records: readonly { readonly key: Uint8Array; readonly record: KvRecord }[];
  /** Sorted by client (string order), no duplicates. */
  readonly sessions: readonly { readonly client: string; readonly seq: number; readonly result: KvResult }[];
}

const FORMAT_VERSION = 1;

export function encodeKvSnapshot(image: KvImage): Uint8Array {
  const w = new ByteWriter(256);
  w.u8(FORMAT_VERSION).uvarint(image.appliedIndex).uvarint(image.appliedTerm);
  w.uvarint(image.records.length);
  for (const { key, record } of image.records) {
    w.bytes(key);
    writeRecord(w, record);
  }
  w.uvarint(image.sessions.length);
  for (const s of image.sessions) {
    w.string(s.client).uvarint(s.seq);
    writeResult(w, s.result);
  }
  w.u32(crc32c(w.finish()));
  return w.finish();
}

/** Throws CORRUPTION on a checksum mismatch or any malformed content. */
export function decodeKvSnapshot(data: Uint8Array): KvImage {
  if (data.length < 4) throw new TesseraError('CORRUPTION', `kv snapshot: ${data.length} bytes is too short`);
  const body = data.subarray(0, data.length - 4);
  const stored = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(data.length - 4, true);
  if (stored !== crc32c(body)) throw new TesseraError('CORRUPTION', 'kv snapshot: checksum mismatch');

  const r = new ByteReader(body, 'kv snapshot', 'CORRUPTION');
  const version = r.u8();
  if (version !== FORMAT_VERSION) r.fail(`unknown format version ${version}`);
  const appliedIndex = r.uvarint();
  const appliedTerm = r.uvarint();
  const records: { key: Uint8Array; record: KvRecord }[] = [];
  const nRecords = count(r);
  for (let i = 0; i < nRecords; i++) {
    const key = r.bytes();
    const prev = records[records.length - 1];
    if (key.length === 0 || (prev && compareBytes(prev.key, key) >= 0)) r.fail(`key ${i} empty or out of order`);
    records.push({ key, record: readRecord(r) });
  }
  const sessions: { client: string; seq: number; result: KvResult }[] = [];
  const nSessions = count(r);
  for (let i = 0; i < nSessions; i++) {
    const client = r.string();
    const prev = sessions[sessions.length - 1];
    if (prev && prev.client >= client) r.fail(`session ${i} out of order`);
    sessions.push({ client, seq: r.uvarint(), result: readResult(r) });
  }
  r.end();
  return { appliedIndex, appliedTerm, records, sessions };
}

/** A count that cannot exceed what the remaining bytes could hold (at least one byte per item). */
function count(r: ByteReader): number {
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`count ${n} exceeds remaining ${r.remaining} bytes`);
  return n;
}

function writeRecord(w: ByteWriter, rec: KvRecord): void {
  w.bytes(rec.value).uvarint(rec.createRevision).uvarint(rec.modRevision).uvarint(rec.version);
}

function readRecord(r: ByteReader): KvRecord {
  return { value: r.bytes(), createRevision: r.uvarint(), modRevision: r.uvarint(), version: r.uvarint() };
}

// Optional record fields keep their three states (absent, null, record) so a cached session
// result is returned after a restore exactly as it was before.
const ABSENT = 0;
const NULL = 1;
const PRESENT = 2;

function writeOptionalRecord(w: ByteWriter, rec: KvRecord | null | undefined): void {
  if (rec === undefined) w.u8(ABSENT);
  else if (rec === null) w.u8(NULL);
  else writeRecord(w.u8(PRESENT), rec);
}

function readOptionalRecord(r: ByteReader): KvRecord | null | undefined {
  const tag = r.u8();
  if (tag === ABSENT) return undefined;
  if (tag === NULL) return null;
  if (tag === PRESENT) return readRecord(r);
  return r.fail(`bad optional-record tag ${tag}`);
}

const RESULT_OK = 1;
const RESULT_COMPARE_FAILED = 2;
const RESULT_SESSION_STALE = 3;

function writeResult(w: ByteWriter, res: KvResult): void {
  if (res.ok) {
    w.u8(RESULT_OK).uvarint(res.revision);
    writeOptionalRecord(w, res.prev);
    writeOptionalRecord(w, res.value);
  } else if (res.reason === 'compare_failed') {
    w.u8(RESULT_COMPARE_FAILED);
    writeOptionalRecord(w, res.current);
  } else {
    w.u8(RESULT_SESSION_STALE);
  }
}

function readResult(r: ByteReader): KvResult {
  const tag = r.u8();
  switch (tag) {
    case RESULT_OK: {
      const revision = r.uvarint();
      const prev = readOptionalRecord(r);
      const value = readOptionalRecord(r);
      return {
        ok: true,
        revision,
        ...(prev === undefined ? {} : { prev }),
        ...(value === undefined ? {} : { value }),
      };
    }
    case RESULT_COMPARE_FAILED: {
      const current = readOptionalRecord(r);
      if (current === undefined) return r.fail('compare_failed without current');
      return { ok: false, reason: 'compare_failed', current };
    }
    case RESULT_SESSION_STALE:
      return { ok: false, reason: 'session_stale' };
    default:
      return r.fail(`bad result tag ${tag}`);
  }
}
