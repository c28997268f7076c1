/**
 * The WGL memo cache: configurations already explored. Without it the search is exponential in the
 * history's length; with it, roughly in the concurrency at any one moment.
 *
 * A configuration is (linearized listed operations, state, info writes used just in time). The search
 * always uses the earliest unused info write of a value, and the unused ones are interchangeable, so
 * a configuration that used a superset of another's info writes (same rest) has strictly fewer
 * options: if the other was explored and failed, so does this one. Keying on the exact set instead
 * would let every crashed delete double the configurations for the rest of the history.
 */
import type { BitsetSnapshot, LinearizedSet } from './bitset.ts';

export interface CacheEntry {
  readonly state: number;
  readonly ok: BitsetSnapshot;
  readonly listedInfo: BitsetSnapshot;
  readonly jit: BitsetSnapshot;
}

export const allEntries: CacheEntry[] = [];
export class SeenCache {
  private readonly buckets = new Map<number, CacheEntry[]>();

  /**
   * Records the configuration; false if it is dominated by one recorded before. Entries with the
   * same key are never ancestors on the search stack (each step adds a listed operation), so a
   * recorded entry has been explored to the end.
   */
  add(ok: LinearizedSet, listedInfo: LinearizedSet, jit: LinearizedSet, state: number): boolean {
    const lo = (ok.hashLo ^ listedInfo.hashLo ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0;
    const hi = (ok.hashHi ^ listedInfo.hashHi ^ Math.imul(state + 1, 0x85ebca77)) & 0x1fffff;
    const key = hi * 0x1_0000_0000 + lo; // 53 bits: exact as a Map key
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(key, bucket);
    }
    for (const e of bucket) {
      if (e.state === state && ok.equals(e.ok) && listedInfo.equals(e.listedInfo) && jit.includes(e.jit)) return false;
    }
    bucket.push({ state, ok: ok.snapshot(), listedInfo: listedInfo.snapshot(), jit: jit.snapshot() }); allEntries.push(bucket[bucket.length-1]!);
    return true;
  }
}
