/**
 * The WGL memo cache: configurations already explored. Without it the search is exponential in the
 * history's length; with it, roughly in the concurrency at any one moment.
 *
 * A configuration is (ok operations linearized, info cas linearized, info writes used just in time,
 * state). The search always uses the earliest unused info write of a value, and unused ones are
 * interchangeable, so a configuration that used a superset of another's info writes (same rest) has
 * fewer options: if the other was explored and failed, so does this one. Keying on the exact set
 * instead would let every crashed delete multiply the configurations for the rest of the history.
 *
 * Entries live in one growable Uint32Array (about 40 bytes each), because a hard search records
 * millions and an object per entry would cost a gigabyte.
 */
import type { LinearizedSet } from './bitset.ts';

// Entry layout: next entry in the bucket (0 = none), state, then (full, length) for each of the
// three sets, then the three tails.
const NEXT = 0;
const STATE = 1;
const HEADER = 8;

export class SeenCache {
  /** Hash -> offset of the bucket's first entry. */
  private readonly buckets = new Map<number, number>();
  private arena = new Uint32Array(1 << 16);
  private used = 1; // offset 0 means "none"

  /**
   * Records the configuration; false if it is dominated by one recorded before. Entries with the
   * same key are never ancestors on the search stack (each move adds a listed operation), so a
   * recorded entry has been explored to the end.
   */
  add(ok: LinearizedSet, listedInfo: LinearizedSet, jit: LinearizedSet, state: number): boolean {
    const lo = (ok.hashLo ^ listedInfo.hashLo ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0;
    const hi = (ok.hashHi ^ listedInfo.hashHi ^ Math.imul(state + 1, 0x85ebca77)) & 0x1fffff;
    const key = hi * 0x1_0000_0000 + lo; // 53 bits: exact as a Map key
    const first = this.buckets.get(key) ?? 0;
    for (let at = first; at !== 0; at = this.arena[at + NEXT]!) {
      if (this.dominates(at, ok, listedInfo, jit, state)) return false;
    }
    this.buckets.set(key, this.append(first, ok, listedInfo, jit, state));
    return true;
  }

  private dominates(at: number, ok: LinearizedSet, listedInfo: LinearizedSet, jit: LinearizedSet, state: number): boolean {
    const a = this.arena;
    if (a[at + STATE] !== state) return false;
    const okAt = at + HEADER;
    const listedAt = okAt + a[at + 3]!;
    const jitAt = listedAt + a[at + 5]!;
    return (
      ok.equalsEncoded(a[at + 2]!, a, okAt, a[at + 3]!) &&
      listedInfo.equalsEncoded(a[at + 4]!, a, listedAt, a[at + 5]!) &&
      jit.includesEncoded(a[at + 6]!, a, jitAt, a[at + 7]!)
    );
  }

  private append(next: number, ok: LinearizedSet, listedInfo: LinearizedSet, jit: LinearizedSet, state: number): number {
    const size = HEADER + ok.tailLength + listedInfo.tailLength + jit.tailLength;
    if (this.used + size > this.arena.length) {
      const grown = new Uint32Array(Math.max(this.arena.length * 2, this.used + size));
      grown.set(this.arena);
      this.arena = grown;
    }
    const at = this.used;
    const a = this.arena;
    a[at + NEXT] = next;
    a[at + STATE] = state;
    let tail = at + HEADER;
    [ok, listedInfo, jit].forEach((set, k) => {
      a[at + 2 + 2 * k] = set.full;
      a[at + 3 + 2 * k] = set.tailLength;
      set.copyTail(a, tail);
      tail += set.tailLength;
    });
    this.used = tail;
    return at;
  }
}
