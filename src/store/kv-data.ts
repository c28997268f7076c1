/**
 * The key -> record table, with every mutation also appended to the event log, so data and
 * events cannot disagree. Used only inside apply batches. Records pass through a write-through
 * cache (kv-record-cache.ts) that the owner drops with clearCache() whenever the backend may
 * have lost what this wrote.
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { bytesToBinaryString } from '../util/bytes.ts';
import type { KvBackend, KvReadView } from './kv-backend.ts';
import type { KvEventLog } from './kv-events.ts';
import { KvRecordCache } from './kv-record-cache.ts';
import { nextRecord, readRecord, writeRecord, type KvRecord } from './kv-record.ts';

/** Keys deleted per scan of a deleteRange: bounds the memory of one step, not the range. */
const DELETE_PAGE = 1024;

export class KvData {
  private readonly cache = new KvRecordCache();

  constructor(
    private readonly backend: KvBackend,
    private readonly events: KvEventLog,
  ) {}

  /** Forgets every cached record: the backend is the only truth again. */
  clearCache(): void {
    this.cache.clear();
  }

  get(key: Uint8Array): KvRecord | null {
    return this.lookup(bytesToBinaryString(key), key);
  }

  /** Returns the record before the put. */
  put(key: Uint8Array, value: Uint8Array, revision: number): KvRecord | null {
    const k = bytesToBinaryString(key);
    const prev = this.lookup(k, key);
    const rec = nextRecord(prev, value, revision);
    writeRecord(new ByteWriter(rec.value.length + 16), rec).finishInto((bytes) => this.backend.put('data', key, bytes));
    this.cache.set(k, rec);
    this.events.append(revision, 'put', key, rec);
    return prev;
  }

  /** Returns the record deleted (null: the key was absent, nothing happened). */
  delete(key: Uint8Array, revision: number): KvRecord | null {
    const k = bytesToBinaryString(key);
    const prev = this.lookup(k, key);
    if (prev === null) return null;
    this.backend.delete('data', key);
    this.cache.set(k, null);
    this.events.append(revision, 'delete', key, prev);
    return prev;
  }

  private lookup(k: string, key: Uint8Array): KvRecord | null {
    const cached = this.cache.get(k);
    if (cached !== undefined) return cached;
    const rec = readDataRecord(this.backend, key);
    this.cache.set(k, rec);
    return rec;
  }

  /** Deletes every key in [start, end), in key order; returns how many. */
  deleteRange(start: Uint8Array, end: Uint8Array | null, revision: number): number {
    let deleted = 0;
    for (;;) {
      // Each page's keys are gone once deleted, so the next scan starts at `start` again.
      const page = this.backend.range('data', start, end, DELETE_PAGE);
      for (const { key, value } of page) {
        this.backend.delete('data', key);
        this.cache.set(bytesToBinaryString(key), null);
        this.events.append(revision, 'delete', key, decodeDataRecord(key, value));
      }
      deleted += page.length;
      if (page.length < DELETE_PAGE) return deleted;
    }
  }
}

export function readDataRecord(view: KvReadView, key: Uint8Array): KvRecord | null {
  const raw = view.get('data', key);
  return raw === undefined ? null : decodeDataRecord(key, raw);
}

export function decodeDataRecord(key: Uint8Array, raw: Uint8Array): KvRecord {
  const r = new ByteReader(raw, () => `record of key ${Buffer.from(key).toString('hex')}`, 'CORRUPTION');
  const rec = readRecord(r);
  r.end();
  return rec;
}
