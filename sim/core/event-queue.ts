/**
 * A min-heap ordered by (time, sequence). The sequence is a per-queue insertion counter, so
 * events at the same time come out in the order they were pushed: the pop order is a total
 * order fixed by the pushes alone, never by heap layout.
 *
 * Performance shapes the layout (the queue sees every simulated event):
 * - keys sit in Float64Arrays, touched on every sift step, so dense and unboxed;
 * - the heap is 4-ary: half the depth of a binary heap, and siblings share a cache line;
 * - payloads live in a pool of recycled slots, and an id is (slot, generation) packed in one
 *   number, so push allocates nothing and cancel needs no lookup table. (Per-event handle objects
 *   or a Set of live ids each cost about a third of the whole push/pop.)
 *
 * Cancellation is lazy: it marks the slot, and the entry is skipped when it reaches the top. When
 * cancelled entries outnumber live ones the heap is rebuilt, because timers re-armed constantly
 * (election timeouts) would otherwise let it grow without bound.
 */
import { assert } from '../../src/util/assert.ts';

const ARITY = 4;
const INITIAL_CAPACITY = 1024;
/** Below this many stale entries, compaction is not worth its O(n) pass. */
const MIN_COMPACT = 1024;
/** Ids pack generation * SLOTS + slot; 2^24 concurrent events, 2^29 reuses per slot before wrap. */
const SLOTS = 2 ** 24;
const GENERATIONS = 2 ** 29;

const FREE = 0;
const QUEUED = 1;
const CANCELLED = 2;

export class EventQueue<T> {
  // The heap: keys and the slot each entry's payload is in.
  private times = new Float64Array(INITIAL_CAPACITY);
  private seqs = new Float64Array(INITIAL_CAPACITY);
  private refs = new Int32Array(INITIAL_CAPACITY);
  /** Entries physically in the heap, cancelled ones included. */
  private n = 0;
  private nextSeq = 0;
  private live = 0;
  private stale = 0;

  // The slot pool. A slot is in use exactly while its entry is in the heap.
  private items: (T | undefined)[] = [];
  private states = new Uint8Array(INITIAL_CAPACITY);
  private gens = new Uint32Array(INITIAL_CAPACITY);
  private freeSlots: number[] = [];

  /** Number of live (not cancelled, not yet popped) events. */
  get size(): number {
    return this.live;
  }

  /** Adds an event; returns its id (never reused while the event is pending) for `cancel`. */
  push(time: number, event: T): number {
    assert(!Number.isNaN(time), 'event time is NaN');
    const slot = this.allocSlot();
    this.items[slot] = event;
    this.states[slot] = QUEUED;
    if (this.n === this.times.length) this.growHeap();
    this.live++;
    this.siftUp(this.n++, time, this.nextSeq++, slot);
    return (this.gens[slot] as number) * SLOTS + slot;
  }

  /** Time of the earliest live event, or undefined when there is none. */
  peekTime(): number | undefined {
    this.dropStaleTop();
    return this.n > 0 ? this.times[0] : undefined;
  }

  /** Removes and returns the earliest live event, or undefined when there is none. */
  pop(): T | undefined {
    this.dropStaleTop();
    if (this.n === 0) return undefined;
    const slot = this.refs[0] as number;
    const item = this.items[slot] as T;
    this.live--;
    this.removeTop();
    return item;
  }

  /** Returns false when the event was already popped or cancelled (so callers may cancel twice). */
  cancel(id: number): boolean {
    const slot = id % SLOTS;
    if (slot >= this.items.length) return false;
    if (this.states[slot] !== QUEUED || this.gens[slot] !== Math.floor(id / SLOTS)) return false;
    this.states[slot] = CANCELLED;
    this.items[slot] = undefined;
    this.live--;
    this.stale++;
    if (this.stale >= MIN_COMPACT && this.stale * 2 > this.n) this.compact();
    return true;
  }

  private dropStaleTop(): void {
    while (this.n > 0 && this.states[this.refs[0] as number] === CANCELLED) {
      this.removeTop();
      this.stale--;
    }
  }

  private allocSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.items.length;
    assert(slot < SLOTS, 'more than 2^24 pending events');
    if (slot === this.states.length) {
      const states = new Uint8Array(slot * 2);
      states.set(this.states);
      this.states = states;
      const gens = new Uint32Array(slot * 2);
      gens.set(this.gens);
      this.gens = gens;
    }
    this.items.push(undefined);
    return slot;
  }

  /** The next generation makes every id handed out for this slot stale. */
  private freeSlot(slot: number): void {
    this.items[slot] = undefined;
    this.states[slot] = FREE;
    this.gens[slot] = ((this.gens[slot] as number) + 1) % GENERATIONS;
    this.freeSlots.push(slot);
  }

  private growHeap(): void {
    const size = this.times.length * 2;
    const times = new Float64Array(size);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(size);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const refs = new Int32Array(size);
    refs.set(this.refs);
    this.refs = refs;
  }

  private removeTop(): void {
    this.freeSlot(this.refs[0] as number);
    const last = --this.n;
    if (last > 0) this.siftDown(0, this.times[last] as number, this.seqs[last] as number, this.refs[last] as number);
  }

  /** Moves a hole up from `i` and drops the entry where it belongs. */
  private siftUp(i: number, time: number, seq: number, ref: number): void {
    const { times, seqs, refs } = this;
    while (i > 0) {
      const parent = ((i - 1) / ARITY) | 0;
      const pt = times[parent] as number;
      if (pt < time || (pt === time && (seqs[parent] as number) < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      refs[i] = refs[parent] as number;
      i = parent;
    }
    times[i] = time;
    seqs[i] = seq;
    refs[i] = ref;
  }

  /** Moves a hole down from `i` and drops the entry where it belongs. */
  private siftDown(i: number, time: number, seq: number, ref: number): void {
    const { times, seqs, refs } = this;
    const n = this.n;
    for (;;) {
      const first = ARITY * i + 1;
      if (first >= n) break;
      let best = first;
      let bt = times[first] as number;
      let bs = seqs[first] as number;
      const end = Math.min(first + ARITY, n);
      for (let c = first + 1; c < end; c++) {
        const ct = times[c] as number;
        if (ct < bt || (ct === bt && (seqs[c] as number) < bs)) {
          best = c;
          bt = ct;
          bs = seqs[c] as number;
        }
      }
      if (time < bt || (time === bt && seq < bs)) break;
      times[i] = bt;
      seqs[i] = bs;
      refs[i] = refs[best] as number;
      i = best;
    }
    times[i] = time;
    seqs[i] = seq;
    refs[i] = ref;
  }

  private compact(): void {
    const { times, seqs, refs } = this;
    let kept = 0;
    for (let i = 0; i < this.n; i++) {
      const ref = refs[i] as number;
      if (this.states[ref] === CANCELLED) {
        this.freeSlot(ref);
        continue;
      }
      times[kept] = times[i] as number;
      seqs[kept] = seqs[i] as number;
      refs[kept] = ref;
      kept++;
    }
    this.n = kept;
    this.stale = 0;
    // Floyd's heapify; the (time, seq) order is total, so the pop order is unchanged.
    for (let i = Math.floor((kept - 2) / ARITY); i >= 0; i--) {
      this.siftDown(i, times[i] as number, seqs[i] as number, refs[i] as number);
    }
  }
}
