/**
 * The watch event log: every mutation appends {revision, sub, type, key, record}, keyed by
 * (revision, sub) big-endian so events scan in revision order and, within a revision (one txn
 * can change several keys), in op order. It is replicated state like the data, so every replica
 * returns the same events for the same revisions: a watcher that moves to another node resumes
 * from its next revision without loss or duplicates. Only the newest `eventHistory` events are
 * kept; trimming drops whole revisions and is part of the apply batch.
 */
import { TesseraError } from '../errors.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { concatBytes } from '../util/bytes.ts';
import { readU32be, readU64be, u32be, u64be } from '../util/u64be.ts';
import type { KvBackend, KvReadView } from './kv-backend.ts';
import { MAX_RANGE_LIMIT, type KvLimits } from './kv-limits.ts';
import { EMPTY_EVENTS, encodeEvents, META_EVENTS, readEvents, type EventsMeta } from './kv-meta.ts';
import { readRecord, writeRecord, type KvRecord } from './kv-record.ts';

export type KvEvent =
  | {
      readonly revision: number;
      /** Position within the revision, from 0, in op order. */
      readonly sub: number;
      readonly type: 'put';
      readonly key: Uint8Array;
      readonly value: Uint8Array;
      /** The record the put left. */
      readonly record: KvRecord;
    }
  | {
      readonly revision: number;
      readonly sub: number;
      readonly type: 'delete';
      readonly key: Uint8Array;
      /** The record the delete removed. */
      readonly record: KvRecord;
    };

const TYPE_PUT = 1;
const TYPE_DELETE = 2;
const TRIM_PAGE = 1024;

/** Appends and trims within apply batches (begin/end bracket each batch). */
export class KvEventLog {
  private meta: EventsMeta = EMPTY_EVENTS;
  private dirty = false;
  private revision = 0;
  private sub = 0;

  constructor(
    private readonly backend: KvBackend,
    private readonly limits: KvLimits,
  ) {}

  begin(): void {
    this.meta = readEvents(this.backend);
    this.dirty = false;
    // A failed batch may have appended at a revision that is applied again later.
    this.revision = 0;
    this.sub = 0;
  }

  end(): void {
    if (this.dirty) this.backend.put('meta', META_EVENTS, encodeEvents(this.meta));
  }

  append(revision: number, type: 'put' | 'delete', key: Uint8Array, record: KvRecord): void {
    if (revision !== this.revision) {
      this.revision = revision;
      this.sub = 0;
    }
    const value = writeRecord(new ByteWriter(key.length + record.value.length + 16).u8(type === 'put' ? TYPE_PUT : TYPE_DELETE).bytes(key), record);
    this.backend.put('events', eventKey(revision, this.sub++), value.finish());
    this.meta = { ...this.meta, count: this.meta.count + 1 };
    this.dirty = true;
  }

  /** Drops the oldest revisions until at most eventHistory events remain. */
  trim(): void {
    while (this.meta.count > this.limits.eventHistory) {
      const [oldest] = this.backend.range('events', new Uint8Array(0), null, 1);
      if (oldest === undefined) throw new TesseraError('CORRUPTION', `event log: count ${this.meta.count} but no events`);
      const revision = revisionOf(oldest.key);
      let removed = 0;
      for (;;) {
        const page = this.backend.range('events', eventKey(revision, 0), eventKey(revision + 1, 0), TRIM_PAGE);
        for (const e of page) this.backend.delete('events', e.key);
        removed += page.length;
        if (page.length < TRIM_PAGE) break;
      }
      this.meta = { floor: revision + 1, count: this.meta.count - removed };
      this.dirty = true;
    }
  }
}

/**
 * Events from (fromRevision, fromSub) on, in order, at most `limit`. Throws COMPACTED if any
 * event at or after that point may have been trimmed.
 */
export function readEventLog(view: KvReadView, fromRevision: number, limit: number, fromSub = 0): KvEvent[] {
  for (const [what, n, min] of [
    ['fromRevision', fromRevision, 1],
    ['limit', limit, 1],
    ['fromSub', fromSub, 0],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < min) throw new TesseraError('INVALID_ARGUMENT', `events: ${what} ${n}`);
  }
  if (limit > MAX_RANGE_LIMIT) throw new TesseraError('INVALID_ARGUMENT', `events: limit ${limit} exceeds ${MAX_RANGE_LIMIT}`);
  const { floor } = readEvents(view);
  if (fromRevision < floor) {
    throw new TesseraError('COMPACTED', `events from revision ${fromRevision}: history starts at revision ${floor}`);
  }
  return view.range('events', eventKey(fromRevision, fromSub), null, limit).map((e) => decodeEvent(e.key, e.value));
}

function eventKey(revision: number, sub: number): Uint8Array {
  return concatBytes([u64be(revision), u32be(sub)]);
}

function revisionOf(key: Uint8Array): number {
  const rev = readU64be(key);
  if (key.length !== 12 || rev === null) throw new TesseraError('CORRUPTION', `event log: bad key of ${key.length} bytes`);
  return rev;
}

function decodeEvent(k: Uint8Array, v: Uint8Array): KvEvent {
  const revision = revisionOf(k);
  const sub = readU32be(k, 8);
  const r = new ByteReader(v, `event ${revision}.${sub}`, 'CORRUPTION');
  const type = r.u8();
  const key = r.bytes();
  const record = readRecord(r);
  r.end();
  if (type === TYPE_PUT) return { revision, sub, type: 'put', key, value: record.value, record };
  if (type === TYPE_DELETE) return { revision, sub, type: 'delete', key, record };
  return r.fail(`bad event type ${type}`);
}
