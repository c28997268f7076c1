/**
 * A set of linearized operations in the WGL search, with an O(1) incremental hash (Zobrist) and a
 * compact snapshot for the memo cache. The linearized `ok` operations are nearly a prefix of the call
 * order, so a snapshot stores only "the first `full` words are all ones" plus the words after them up
 * to the highest non-zero one: a handful of words even for 10^5 operations, instead of n/32 per cache
 * entry. (`info` operations may stay out forever and would pin `full`; the search keeps them in a
 * separate set.)
 */

const ALL = 0xffffffff;

export interface BitsetSnapshot {
  readonly full: number;
  readonly tail: Uint32Array;
}

/** splitmix32: deterministic per-bit hash keys, so a run never depends on ambient randomness. */
function splitmix32(seed: number): number {
  let z = (seed + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class LinearizedSet {
  private readonly words: Uint32Array;
  private readonly keyLo: Uint32Array;
  private readonly keyHi: Uint32Array;
  /** Words [0, full) are all ones. */
  private full = 0;
  /** Words at index >= top are all zero. */
  private top = 0;
  hashLo = 0;
  hashHi = 0;

  /** Sets whose hashes are combined need different `salt`s, or equal members would cancel out. */
  constructor(
    readonly size: number,
    salt = 0,
  ) {
    this.words = new Uint32Array(Math.ceil(size / 32));
    this.keyLo = new Uint32Array(size);
    this.keyHi = new Uint32Array(size);
    const base = Math.imul(salt, 0x3c6ef372);
    for (let i = 0; i < size; i++) {
      this.keyLo[i] = splitmix32(base + 2 * i);
      this.keyHi[i] = splitmix32(base + 2 * i + 1);
    }
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  set(i: number): void {
    const w = i >>> 5;
    this.words[w] = this.words[w]! | (1 << (i & 31));
    this.toggleHash(i);
    if (w >= this.top) this.top = w + 1;
    while (this.full < this.words.length && this.words[this.full] === ALL) this.full++;
  }

  clear(i: number): void {
    const w = i >>> 5;
    this.words[w] = this.words[w]! & ~(1 << (i & 31));
    this.toggleHash(i);
    if (w < this.full) this.full = w;
    while (this.top > 0 && this.words[this.top - 1] === 0) this.top--;
  }

  snapshot(): BitsetSnapshot {
    return { full: this.full, tail: this.words.slice(this.full, Math.max(this.full, this.top)) };
  }

  equals(s: BitsetSnapshot): boolean {
    if (s.full !== this.full || s.tail.length !== Math.max(0, this.top - this.full)) return false;
    for (let k = 0; k < s.tail.length; k++) {
      if (s.tail[k] !== this.words[this.full + k]) return false;
    }
    return true;
  }

  /** Whether every member of `s` is a member of this set. */
  includes(s: BitsetSnapshot): boolean {
    for (let k = 0; k < s.full; k++) if (this.words[k] !== ALL) return false;
    for (let k = 0; k < s.tail.length; k++) {
      if ((s.tail[k]! & ~this.words[s.full + k]!) !== 0) return false;
    }
    return true;
  }

  private toggleHash(i: number): void {
    this.hashLo = (this.hashLo ^ this.keyLo[i]!) >>> 0;
    this.hashHi = (this.hashHi ^ this.keyHi[i]!) >>> 0;
  }
}
