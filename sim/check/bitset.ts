/**
 * A set of linearized operations in the WGL search, with an O(1) incremental hash (Zobrist) and a
 * compact encoding for the memo cache. The linearized `ok` operations are nearly a prefix of the call
 * order, so the encoding is "the first `full` words are all ones" plus the `tail` words after them up
 * to the highest non-zero one: a handful of words even for 10^5 operations, instead of n/32 per cache
 * entry. (`info` operations may stay out forever and would pin `full`; the search keeps them in
 * separate sets.)
 */

const ALL = 0xffffffff;

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
  private fullWords = 0;
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
    while (this.fullWords < this.words.length && this.words[this.fullWords] === ALL) this.fullWords++;
  }

  clear(i: number): void {
    const w = i >>> 5;
    this.words[w] = this.words[w]! & ~(1 << (i & 31));
    this.toggleHash(i);
    if (w < this.fullWords) this.fullWords = w;
    while (this.top > 0 && this.words[this.top - 1] === 0) this.top--;
  }

  get full(): number {
    return this.fullWords;
  }

  get tailLength(): number {
    return Math.max(0, this.top - this.fullWords);
  }

  /** Writes the tail words into `dst` from `at`. */
  copyTail(dst: Uint32Array, at: number): void {
    dst.set(this.words.subarray(this.fullWords, this.fullWords + this.tailLength), at);
  }

  /** Whether this set is the one encoded by `full` and the `len` tail words of `src` from `at`. */
  equalsEncoded(full: number, src: Uint32Array, at: number, len: number): boolean {
    if (full !== this.fullWords || len !== this.tailLength) return false;
    for (let k = 0; k < len; k++) {
      if (src[at + k] !== this.words[full + k]) return false;
    }
    return true;
  }

  /** Whether this set includes every member of the encoded set. */
  includesEncoded(full: number, src: Uint32Array, at: number, len: number): boolean {
    if (full > this.fullWords) {
      for (let k = this.fullWords; k < full; k++) if (this.words[k] !== ALL) return false;
    }
    for (let k = 0; k < len; k++) {
      if ((src[at + k]! & ~(this.words[full + k] ?? 0)) !== 0) return false;
    }
    return true;
  }

  private toggleHash(i: number): void {
    this.hashLo = (this.hashLo ^ this.keyLo[i]!) >>> 0;
    this.hashHi = (this.hashHi ^ this.keyHi[i]!) >>> 0;
  }
}
