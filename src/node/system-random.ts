/**
 * The production Random: node:crypto, so election timeouts of nodes started at the same moment
 * (even in one process) are independent. Words are drawn in batches, as one getRandomValues
 * call per draw would dominate the cost of a tick.
 */
import { getRandomValues } from 'node:crypto';
import type { Random } from './ports.ts';

const BATCH = 256;
const TWO_32 = 4294967296;
const TWO_21 = 2097152;

export class SystemRandom implements Random {
  private readonly pool = new Uint32Array(BATCH);
  private next = BATCH;

  nextUint32(): number {
    if (this.next === BATCH) {
      getRandomValues(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++]!;
  }

  nextInt(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_32) {
      throw new RangeError(`nextInt: maxExclusive must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    // Rejection sampling: plain modulo would favour small results when maxExclusive does not divide 2^32.
    const limit = TWO_32 - (TWO_32 % maxExclusive);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % maxExclusive;
    }
  }

  nextFloat(): number {
    // 53 random bits: every double in [0, 1) on the 2^-53 grid is equally likely.
    const hi = this.nextUint32() >>> 11; // 21 bits
    const lo = this.nextUint32(); // 32 bits
    return (hi * TWO_32 + lo) / (TWO_21 * TWO_32);
  }
}
