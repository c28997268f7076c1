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
import { readU32be, readU64be, u64beU32be } from '../util/u64be.ts';
import type { KvBackend, KvReadView } from './kv-backend.ts';
import { KvEventQueue } from './kv-event-queue.ts';
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
const TRIM_LOOKAHEAD = 8;
const NO_KEY = new Uint8Array(0);

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

  /** False until meta is read, and again once the backend may not be as the last batch left it. */
  private cached = false;

  /** Starts a batch: meta is read again only after clearCache() (or before the first batch). */
  begin(): void {
    if (!this.cached) {
      this.meta = readEvents(this.backend);
      this.cached = true;
    }
    this.dirty = false;
    // A failed batch may have appended at a revision that is applied again later.
    this.revision = 0;
    this.sub = 0;
  }

  end(): void {
    if (this.dirty) this.backend.put('meta', META_EVENTS, encodeEvents(this.meta));
  }

  clearCache(): void {
    this.cached = false;
    this.queue.clear();
  }

  /** The revisions appended since the caches were last dropped, for trim(). */
  private readonly queue = new KvEventQueue();

  append(revision: number, type: 'put' | 'delete', key: Uint8Array, record: KvRecord): void {
    if (revision !== this.revision) {
      this.revision = revision;
      this.sub = 0;
    }
    const value = writeRecord(new ByteWriter(key.length + record.value.length + 16).u8(type === 'put' ? TYPE_PUT : TYPE_DELETE).bytes(key), record);
    value.finishInto((bytes) => this.backend.put('events', eventKey(revision, this.sub++), bytes));
    this.queue.push(revision);
    this.meta = { ...this.meta, count: this.meta.count + 1 };
    this.dirty = true;
  }

  /**
   * Drops the oldest revisions, each whole, until at most eventHistory events remain. Called once
   * per batch, it leaves exactly what calling it after every entry would: appends only lengthen
   * the suffix from any revision, so a revision dropped at some entry would also be dropped at
   * the batch's end, and the reverse. One scan per batch instead of two per entry, which in a
   * node whose history is full was about half the cost of applying a put (bench:apply); and no
   * scan at all once the queue knows every stored event (bench:kv w64: 9.5k -> 11.3k ops/s).
   */
  trim(): void {
    const history = this.limits.eventHistory;
    const { floor, count } = this.meta;
    if (count <= history) return;
    if (this.queue.covers(count)) this.trimKnown(floor, count, history);
    else this.trimScanning(floor, count, history);
  }

  /**
   * The trim when the queue knows every stored revision and its event count: the keys to delete
   * follow from it, with nothing read back (reading them was most of the trim's cost).
   */
  private trimKnown(floor: number, count: number, history: number): void {
    while (count > history) {
      const revision = this.queue.firstRevision();
      const n = this.queue.firstCount();
      for (let sub = 0; sub < n; sub++) {
        if (!this.backend.delete('events', eventKey(revision, sub))) {
          throw new TesseraError('CORRUPTION', `event log: event ${revision}.${sub} is missing`);
        }
      }
      this.queue.shift();
      count -= n;
      floor = revision + 1;
    }
    this.setTrimmed(floor, count);
  }

  /** The trim when older events than the queue knows are stored (after a restart): reads their keys. */
  private trimScanning(floor: number, count: number, history: number): void {
    let dropping = -1;
    for (;;) {
      // Everything before this page was deleted, so each scan starts from the first key. It
      // reads what must go, plus a few to find where the last revision to drop ends.
      const limit = Math.min(TRIM_PAGE, Math.max(0, count - history) + TRIM_LOOKAHEAD);
      const page = this.backend.rangeKeys('events', NO_KEY, null, limit);
      for (const key of page) {
        const revision = revisionOf(key);
        if (revision !== dropping) {
          // A revision goes whole or not at all, decided at its first event.
          if (count <= history) return this.setScanned(floor, count);
          dropping = revision;
          floor = revision + 1;
        }
        this.backend.delete('events', key);
        count--;
      }
      if (page.length < limit) {
        // No events left: only right if the count says so (one revision may outnumber the history).
        if (count !== 0) throw new TesseraError('CORRUPTION', `event log: count says ${count} more events than are stored`);
        return this.setScanned(floor, count);
      }
    }
  }

  private setScanned(floor: number, count: number): void {
    this.queue.dropBelow(floor);
    this.setTrimmed(floor, count);
  }

  private setTrimmed(floor: number, count: number): void {
    this.meta = { floor, count };
    this.dirty = true;
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
  return u64beU32be(revision, sub);
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
