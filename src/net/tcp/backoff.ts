/**
 * Capped exponential back-off with jitter for reconnecting: a dead peer costs a dial every
 * `maxMs` at most, and peers that lost each other at the same moment do not redial in lockstep.
 */
export class Backoff {
  private attempts = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    /** Uniform in [0, 1). */
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt: half the capped exponential, plus up to as much again at random. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempts, 30));
    this.attempts++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** After a success the next failure starts from the base delay again. */
  reset(): void {
    this.attempts = 0;
  }
}
