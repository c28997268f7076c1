/**
 * The watch event log: every mutation appends {revision, sub, type, key, record}, in revision
 * order and, within a revision (one txn can change several keys), in op order. It is replicated
 * state like the data, so every replica returns the same events for the same revisions: a
 * watcher that moves to another node resumes from its next revision without loss or duplicates.
 * Only the newest `eventHistory` events are kept; trimming drops whole revisions and is part of
 * the apply batch.
 *
 * Stored in blocks: consecutive events packed into one row of up to EVENT_BLOCK_BYTES, keyed by
 * the (revision, sub) of its LAST event, big-endian, so that the first row at or after a
 * position holds that position's event. A row per event cost two LMDB writes per put (its put
 * and, once the history was full, its delete), as many as the data and the session together.
 * Where a block ends depends only on the events (their sizes), never on how entries were batched,
 * so replicas hold the same rows. The last block stays open: it is rewritten (under its new last
 * key) at the end of each batch until it is full. A block may still hold events of trimmed
 * revisions (below `floor`): reads skip them, and a closed block goes once all of its events
 * have. The open block stays even then: where it ends must not depend on when trims ran.
 *
 * The in-memory index (every kept revision with its event count, every closed block's last key,
 * the open block's bytes) is rebuilt from the rows whenever the caches are dropped, so the trim
 * knows what to delete without reading it back.
 */
import { TesseraError } from '../errors.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { readU32be, readU64be, u64beU32be } from '../util/u64be.ts';
import type { KvBackend, KvReadView } from './kv-backend.ts';
import { PairQueue } from '../util/pair-queue.ts';
import { MAX_RANGE_LIMIT, type KvLimits } from './kv-limits.ts';
import { EMPTY_EVENTS, encodeEvents, META_EVENTS, readEvents } from './kv-meta.ts';
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

/**
 * Most bytes of events packed into one block: well inside what LMDB keeps in a 4 KiB page (a
 * larger value goes to overflow pages, whose allocation searches the free list for a run). An
 * event larger than this gets a block of its own.
 */
export const EVENT_BLOCK_BYTES = 1536;

const TYPE_PUT = 1;
const TYPE_DELETE = 2;
/** Blocks read per scan when the index is rebuilt or events are read. */
const SCAN_BLOCKS = 256;

/** The last block, still filling: its bytes, its last event, and the key it is stored under. */
interface OpenBlock {
  bytes: Uint8Array;
  length: number;
  lastRevision: number;
  lastSub: number;
  /** The key of its stored row (null: not stored yet), which changes as it grows. */
  storedKey: Uint8Array | null;
  dirty: boolean;
}

/** Appends and trims within apply batches (begin/end bracket each batch). */
export class KvEventLog {
  /** The events meta row as this batch leaves it (a copy: changed in place at every append). */
  private meta: { floor: number; count: number } = { ...EMPTY_EVENTS };
  private dirty = false;
  private revision = 0;
  private sub = 0;
  /** False until the index is built, and again once the backend may not be as the last batch left it. */
  private cached = false;
  /** (revision, events) of every kept revision, oldest first. */
  private readonly revisions = new PairQueue();
  /** (revision, sub) of the last event of every stored block but the open one, oldest first. */
  private readonly closed = new PairQueue();
  private open: OpenBlock | null = null;

  constructor(
    private readonly backend: KvBackend,
    private readonly limits: KvLimits,
  ) {}

  /** Starts a batch: the index is rebuilt only after clearCache() (or before the first batch). */
  begin(): void {
    if (!this.cached) {
      this.meta = { ...readEvents(this.backend) };
      this.rebuildIndex();
      this.cached = true;
    }
    this.dirty = false;
    // A failed batch may have appended at a revision that is applied again later.
    this.revision = 0;
    this.sub = 0;
  }

  end(): void {
    if (this.open !== null) this.store(this.open);
    if (this.dirty) this.backend.put('meta', META_EVENTS, encodeEvents(this.meta));
  }

  clearCache(): void {
    this.cached = false;
    this.revisions.clear();
    this.closed.clear();
    this.open = null;
  }

  append(revision: number, type: 'put' | 'delete', key: Uint8Array, record: KvRecord): void {
    if (revision !== this.revision) {
      this.revision = revision;
      this.sub = 0;
    }
    const sub = this.sub++;
    const w = writeRecord(new ByteWriter(key.length + record.value.length + 24).uvarint(revision).uvarint(sub).u8(type === 'put' ? TYPE_PUT : TYPE_DELETE).bytes(key), record);
    w.finishInto((event) => this.pack(event, revision, sub));
    this.countKept(revision);
    this.meta.count++;
    this.dirty = true;
  }

  /** One more kept event at `revision`, the newest revision or a newer one. */
  private countKept(revision: number): void {
    if (this.revisions.length > 0 && this.revisions.lastA() === revision) this.revisions.addToLastB(1);
    else this.revisions.push(revision, 1);
  }

  /** Adds an encoded event to the open block, first closing it if the event would overfill it. */
  private pack(event: Uint8Array, revision: number, sub: number): void {
    let open = this.open;
    if (open !== null && open.length > 0 && open.length + event.length > EVENT_BLOCK_BYTES) {
      this.store(open);
      this.closed.push(open.lastRevision, open.lastSub);
      // The backend copied the bytes (KvBackend.put): the buffer starts the next block.
      open.length = 0;
      open.storedKey = null;
    }
    if (open === null) {
      open = { bytes: new Uint8Array(Math.max(EVENT_BLOCK_BYTES, event.length)), length: 0, lastRevision: 0, lastSub: 0, storedKey: null, dirty: false };
      this.open = open;
    }
    if (open.length + event.length > open.bytes.length) {
      const grown = new Uint8Array(open.length + event.length);
      grown.set(open.bytes.subarray(0, open.length));
      open.bytes = grown;
    }
    open.bytes.set(event, open.length);
    open.length += event.length;
    open.lastRevision = revision;
    open.lastSub = sub;
    open.dirty = true;
  }

  /** Writes a block that changed under its current last key (dropping the row of its old one). */
  private store(block: OpenBlock): void {
    if (!block.dirty) return;
    const key = eventKey(block.lastRevision, block.lastSub);
    if (block.storedKey !== null) this.remove(block.storedKey);
    this.backend.put('events', key, block.bytes.subarray(0, block.length));
    block.storedKey = key;
    block.dirty = false;
  }

  private remove(key: Uint8Array): void {
    if (!this.backend.delete('events', key)) throw new TesseraError('CORRUPTION', `event log: block ${describeKey(key)} is missing`);
  }

  /**
   * Drops the oldest revisions, each whole, until at most eventHistory events remain, and every
   * closed block left with no kept event. Called once per batch, it leaves exactly what calling
   * it after every entry would: appends only lengthen the suffix from any revision, so a revision
   * dropped at some entry would also be dropped at the batch's end, and the reverse; blocks end
   * where their events say, whenever they are trimmed.
   */
  trim(): void {
    const history = this.limits.eventHistory;
    let { floor, count } = this.meta;
    if (count <= history) return;
    while (count > history) {
      count -= this.revisions.firstB();
      floor = this.revisions.firstA() + 1;
      this.revisions.shift();
    }
    while (this.closed.length > 0 && this.closed.firstA() < floor) {
      this.remove(eventKey(this.closed.firstA(), this.closed.firstB()));
      this.closed.shift();
    }
    this.meta.floor = floor;
    this.meta.count = count;
    this.dirty = true;
  }

  /** Reads every block: the kept revisions and their event counts, the blocks' keys, the open block. */
  private rebuildIndex(): void {
    this.clearCache();
    const { floor, count } = this.meta;
    let kept = 0;
    let last: { key: Uint8Array; value: Uint8Array; lastRevision: number; lastSub: number } | null = null;
    let from: Uint8Array = new Uint8Array(0);
    for (;;) {
      const page = this.backend.range('events', from, null, SCAN_BLOCKS);
      for (const { key, value } of page) {
        if (last !== null) {
          if (last.lastRevision < floor) throw new TesseraError('CORRUPTION', `event log: block ${describeKey(last.key)} holds only trimmed events (floor ${floor})`);
          this.closed.push(last.lastRevision, last.lastSub);
        }
        const events = decodeBlock(key, value);
        const end = events[events.length - 1]!;
        for (const e of events) {
          if (e.revision < floor) continue;
          this.countKept(e.revision);
          kept++;
        }
        last = { key, value, lastRevision: end.revision, lastSub: end.sub };
      }
      if (page.length < SCAN_BLOCKS) break;
      from = keyAfter(page[page.length - 1]!.key);
    }
    if (kept !== count) throw new TesseraError('CORRUPTION', `event log: meta counts ${count} events, the blocks hold ${kept}`);
    if (last !== null) {
      const bytes = new Uint8Array(Math.max(EVENT_BLOCK_BYTES, last.value.length));
      bytes.set(last.value);
      this.open = { bytes, length: last.value.length, lastRevision: last.lastRevision, lastSub: last.lastSub, storedKey: last.key, dirty: false };
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
  const out: KvEvent[] = [];
  // The first block whose last event is at or after the position holds the position's event.
  let from = eventKey(fromRevision, fromSub);
  for (;;) {
    const page = view.range('events', from, null, SCAN_BLOCKS);
    for (const { key, value } of page) {
      for (const e of decodeBlock(key, value)) {
        if (e.revision < fromRevision || (e.revision === fromRevision && e.sub < fromSub)) continue;
        out.push(e);
        if (out.length === limit) return out;
      }
    }
    if (page.length < SCAN_BLOCKS) return out;
    from = keyAfter(page[page.length - 1]!.key);
  }
}

function eventKey(revision: number, sub: number): Uint8Array {
  return u64beU32be(revision, sub);
}

/** The smallest key after `key` (keys are all 12 bytes: revision, sub). */
function keyAfter(key: Uint8Array): Uint8Array {
  const [revision, sub] = positionOf(key);
  return sub === 0xffffffff ? eventKey(revision + 1, 0) : eventKey(revision, sub + 1);
}

function positionOf(key: Uint8Array): [number, number] {
  const revision = readU64be(key);
  if (key.length !== 12 || revision === null) throw new TesseraError('CORRUPTION', `event log: bad key of ${key.length} bytes`);
  return [revision, readU32be(key, 8)];
}

function describeKey(key: Uint8Array): string {
  const [revision, sub] = positionOf(key);
  return `${revision}.${sub}`;
}

/** A block's events, checked: in order, and the last one is the block's key. */
function decodeBlock(key: Uint8Array, value: Uint8Array): KvEvent[] {
  const [lastRevision, lastSub] = positionOf(key);
  const r = new ByteReader(value, `event block ${lastRevision}.${lastSub}`, 'CORRUPTION');
  const out: KvEvent[] = [];
  let prev: KvEvent | null = null;
  while (r.remaining > 0) {
    const revision = r.uvarint();
    const sub = r.uvarint();
    const type = r.u8();
    const k = r.bytes();
    const record = readRecord(r);
    if (prev !== null && (revision < prev.revision || (revision === prev.revision && sub <= prev.sub))) r.fail(`event ${revision}.${sub} after ${prev.revision}.${prev.sub}`);
    let e: KvEvent;
    if (type === TYPE_PUT) e = { revision, sub, type: 'put', key: k, value: record.value, record };
    else if (type === TYPE_DELETE) e = { revision, sub, type: 'delete', key: k, record };
    else return r.fail(`bad event type ${type}`);
    out.push(e);
    prev = e;
  }
  if (prev === null || prev.revision !== lastRevision || prev.sub !== lastSub) r.fail('its last event is not its key');
  return out;
}
