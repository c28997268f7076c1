/**
 * The newest revisions of the event log and how many events each holds, oldest first: what the
 * trim deletes, known without reading the keys back from the backend. It only ever holds a
 * suffix of the stored log (it starts empty whenever the event log's caches are dropped), so the
 * trim asks `covers(count)` before trusting it. Two plain number arrays with a moving head:
 * pushes and pops are O(1), and the dead prefix is dropped once it outgrows the live part.
 */
import { assert } from '../util/assert.ts';

export class KvEventQueue {
  private revisions: number[] = [];
  private counts: number[] = [];
  private head = 0;
  /** Events in the queue, over all its revisions. */
  private total = 0;

  /** One more event at `revision`, which is the newest revision or a newer one. */
  push(revision: number): void {
    const last = this.revisions.length - 1;
    if (last >= this.head && this.revisions[last] === revision) this.counts[last]!++;
    else {
      assert(last < this.head || revision > this.revisions[last]!, () => `event queue: revision ${revision} after ${this.revisions[last]}`);
      this.revisions.push(revision);
      this.counts.push(1);
    }
    this.total++;
  }

  /** True if the queue holds every one of the `count` events stored. */
  covers(count: number): boolean {
    assert(this.total <= count, () => `event queue: holds ${this.total} events, the log ${count}`);
    return this.total === count;
  }

  /** The oldest revision, or -1 when empty. */
  firstRevision(): number {
    return this.head < this.revisions.length ? this.revisions[this.head]! : -1;
  }

  /** How many events the oldest revision holds (0 when empty). */
  firstCount(): number {
    return this.head < this.revisions.length ? this.counts[this.head]! : 0;
  }

  /** Drops the oldest revision. */
  shift(): void {
    assert(this.head < this.revisions.length, 'event queue: shift of an empty queue');
    this.total -= this.counts[this.head]!;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.revisions.length) {
      this.revisions = this.revisions.slice(this.head);
      this.counts = this.counts.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops every revision below `floor` (the trim deleted them by scanning). */
  dropBelow(floor: number): void {
    while (this.head < this.revisions.length && this.revisions[this.head]! < floor) this.shift();
  }

  clear(): void {
    this.revisions = [];
    this.counts = [];
    this.head = 0;
    this.total = 0;
  }
}
