/**
 * An ordered map over string keys (the memory twins key it with binary strings, whose default
 * order is byte order). A sorted array plus a hash map: reads and in-order scans are what the
 * state machine does most, appends at the end (log-like tables) and removals at the front
 * (trimming, LRU) are amortized O(1), and everything is deterministic, unlike iteration over a
 * structure whose order depends on its history.
 */
import { assert } from './assert.ts';

/** Compaction threshold for the dead prefix left by removals at the front. */
const MIN_DEAD_PREFIX = 1024;

export class SortedMap<V> {
  /** keys[head..] are the live keys, ascending. */
  private keys: string[] = [];
  private head = 0;
  private readonly values = new Map<string, V>();

  get size(): number {
    return this.values.size;
  }

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  set(key: string, value: V): void {
    if (!this.values.has(key)) this.insertKey(key);
    this.values.set(key, value);
  }

  /** True if the key was present. */
  delete(key: string): boolean {
    if (!this.values.delete(key)) return false;
    const i = this.lowerBound(key);
    assert(this.keys[i] === key, () => `sorted map lost key at ${i}`);
    if (i === this.head) {
      this.head++;
      if (this.head >= MIN_DEAD_PREFIX && this.head * 2 >= this.keys.length) {
        this.keys = this.keys.slice(this.head);
        this.head = 0;
      }
    } else {
      this.keys.splice(i, 1);
    }
    return true;
  }

  /** Entries with start <= key < end (null: no upper bound), ascending, at most `limit`. */
  range(start: string, end: string | null, limit: number): [string, V][] {
    const out: [string, V][] = [];
    for (let i = this.lowerBound(start); i < this.keys.length && out.length < limit; i++) {
      const k = this.keys[i]!;
      if (end !== null && k >= end) break;
      out.push([k, this.values.get(k)!]);
    }
    return out;
  }

  /** An independent copy (values are shared; callers treat them as immutable). */
  clone(): SortedMap<V> {
    const c = new SortedMap<V>();
    c.keys = this.keys.slice(this.head);
    for (const k of c.keys) c.values.set(k, this.values.get(k)!);
    return c;
  }

  private insertKey(key: string): void {
    const n = this.keys.length;
    if (n === this.head || this.keys[n - 1]! < key) {
      this.keys.push(key);
      return;
    }
    const i = this.lowerBound(key);
    if (i === this.head && this.head > 0) {
      this.keys[--this.head] = key;
      return;
    }
    this.keys.splice(i, 0, key);
  }

  /** First position in keys[head..] whose key is >= `key`. */
  private lowerBound(key: string): number {
    let lo = this.head;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
