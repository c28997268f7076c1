/**
 * The simulator's only source of randomness: xoshiro128** (Blackman & Vigna), seeded through
 * splitmix32. Every component draws from its own `fork`, so adding draws in one component never
 * shifts the streams of the others, and a run is reproducible from its seed alone.
 */
import type { Random } from '../../src/node/ports.ts';
import { assert } from '../../src/util/assert.ts';

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

/** murmur3's finalizer: a bijection on 32-bit words with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a label's UTF-16 code units under a 32-bit seed (murmur-style absorb, then fmix32). */
function hashLabel(label: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return fmix32((h ^ label.length) >>> 0);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class SeededRandom implements Random {
  /**
   * A 64-bit key (two words) identifies the stream. Forks derive a child key from the parent's
   * key rather than its state, which is what keeps forking free of side effects on the parent.
   */
  private k0: number;
  private k1: number;
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed` is any safe integer; `path` only names the stream in diagnostics. */
  constructor(
    seed: number,
    readonly path: string = String(seed),
  ) {
    assert(Number.isSafeInteger(seed), () => `seed must be a safe integer, got ${seed}`);
    this.k0 = seed >>> 0;
    this.k1 = Math.floor(seed / TWO_32) >>> 0;
    this.init();
  }

  private static fromKey(k0: number, k1: number, path: string): SeededRandom {
    const r = new SeededRandom(0, path);
    r.k0 = k0;
    r.k1 = k1;
    r.init();
    return r;
  }

  /** Two splitmix32 streams (one per key word) are combined so every state word depends on both. */
  private init(): void {
    let a = this.k0;
    let b = this.k1 ^ 0x6a09e667;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      a = (a + 0x9e3779b9) | 0;
      b = (b + 0x7f4a7c15) | 0;
      words.push(fmix32((fmix32(a) ^ Math.imul(fmix32(b), 0x9e3779b1)) >>> 0));
    }
    this.s0 = words[0]! | 0;
    this.s1 = words[1]! | 0;
    this.s2 = words[2]! | 0;
    this.s3 = words[3]! | 0;
    // xoshiro's one forbidden state; unreachable in practice, but cheap to rule out.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * An independent stream for `label`, derived from this stream's key and the label only: it does
   * not consume from (or depend on the position of) this stream, so the same label always yields
   * the same child. Use distinct labels for distinct components.
   */
  fork(label: string): SeededRandom {
    const c0 = hashLabel(label, this.k0 ^ 0x243f6a88);
    const c1 = hashLabel(label, (this.k1 ^ 0x85a308d3 ^ c0) >>> 0);
    return SeededRandom.fromKey(c0, c1, `${this.path}/${label}`);
  }

  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Unbiased: draws above the largest multiple of `maxExclusive` are rejected and redrawn. */
  nextInt(maxExclusive: number): number {
    assert(
      Number.isInteger(maxExclusive) && maxExclusive >= 1 && maxExclusive <= TWO_32,
      () => `nextInt bound must be an integer in [1, 2^32], got ${maxExclusive}`,
    );
    const limit = TWO_32 - (TWO_32 % maxExclusive);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % maxExclusive;
    }
  }

  /** 53 random bits, so every representable multiple of 2^-53 in [0, 1) is reachable. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / TWO_53;
  }

  /**
   * True with probability p. Always consumes exactly one draw, even for p = 0 or 1, so turning a
   * fault knob on or off does not shift the rest of the stream.
   */
  chance(p: number): boolean {
    assert(p >= 0 && p <= 1, () => `probability must be in [0, 1], got ${p}`);
    return this.nextUint32() < p * TWO_32;
  }

  /** Uniform integer in [lo, hiInclusive]; the span may be at most 2^32. */
  range(lo: number, hiInclusive: number): number {
    assert(
      Number.isSafeInteger(lo) && Number.isSafeInteger(hiInclusive) && hiInclusive >= lo,
      () => `range needs integers lo <= hi, got [${lo}, ${hiInclusive}]`,
    );
    return lo + this.nextInt(hiInclusive - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty array');
    return items[this.nextInt(items.length)] as T;
  }

  /** Fisher-Yates, in place; returns the same array for chaining. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** Test hook: a generator with an explicit xoshiro state, to check against reference vectors. */
  static fromState(s0: number, s1: number, s2: number, s3: number): SeededRandom {
    const r = new SeededRandom(0, 'state');
    r.s0 = s0 | 0;
    r.s1 = s1 | 0;
    r.s2 = s2 | 0;
    r.s3 = s3 | 0;
    return r;
  }
}
