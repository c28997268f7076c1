/**
 * Test-only implementations of the `Random` port. The simulator brings its own PRNG; these are
 * just enough to drive MemoryDisk faults reproducibly from a seed or from a script.
 */
import type { Random } from '../../src/node/ports.ts';

const TWO_32 = 2 ** 32;

/** mulberry32: tiny, fast, and good enough to pick crash points. Not for anything statistical. */
export class SeededRandom implements Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  nextInt(maxExclusive: number): number {
    checkBound(maxExclusive);
    return Math.floor((this.nextUint32() / TWO_32) * maxExclusive);
  }

  nextFloat(): number {
    return this.nextUint32() / TWO_32;
  }
}

/** Returns the given values in order from nextInt, so a test can pick exact crash outcomes. */
export function scriptedRandom(values: readonly number[]): Random {
  const queue = [...values];
  const next = (maxExclusive: number): number => {
    checkBound(maxExclusive);
    const v = queue.shift();
    if (v === undefined) throw new Error('scriptedRandom: script exhausted');
    if (!Number.isInteger(v) || v < 0 || v >= maxExclusive) {
      throw new Error(`scriptedRandom: ${v} is not in [0, ${maxExclusive})`);
    }
    return v;
  };
  return {
    nextInt: next,
    nextUint32: () => next(TWO_32),
    nextFloat: () => next(TWO_32) / TWO_32,
  };
}

function checkBound(maxExclusive: number): void {
  if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_32) {
    throw new Error(`nextInt bound ${maxExclusive} is not in [1, 2^32]`);
  }
}
