/**
 * A machine's local clock as a piecewise-linear function of virtual time:
 *   local(t) = anchorLocal + (t - anchorVirtual) * (1 + driftPpm / 1e6)
 * Changing the skew re-anchors at the current instant, so the clock stays continuous and never
 * runs backwards (a node may rely on a monotonic clock; its timers and leases certainly do).
 * All values are integer-or-fractional microseconds; the `Clock` port speaks milliseconds.
 */
import type { Clock } from '../../src/node/ports.ts';
import { assert } from '../../src/util/assert.ts';

export const US_PER_MS = 1000;

export interface ClockSkew {
  /** Rate error in parts per million: +100 runs 0.01% fast. Must be > -1e6. */
  driftPpm?: number;
  /** Local minus virtual time, in ms, at the moment it is applied. */
  offsetMs?: number;
}

/** What a SimClock needs from the simulator (kept narrow to avoid an import cycle). */
export interface TimerScheduler {
  now(): number;
  schedule(delayUs: number, target: number, fn: () => void): () => void;
}

export class SkewModel {
  private rate = 1;
  private ppm = 0;
  private anchorVirtual: number;
  private anchorLocal: number;

  constructor(virtualNowUs: number, skew: ClockSkew = {}) {
    this.anchorVirtual = virtualNowUs;
    this.anchorLocal = virtualNowUs + (skew.offsetMs ?? 0) * US_PER_MS;
    if (skew.driftPpm !== undefined) this.setDrift(skew.driftPpm);
  }

  get driftPpm(): number {
    return this.ppm;
  }

  localUs(virtualUs: number): number {
    return this.anchorLocal + (virtualUs - this.anchorVirtual) * this.rate;
  }

  /**
   * Virtual µs until the local clock has advanced `localDelayUs`: rounded up so a timer never
   * fires early by local reckoning, but float noise (1.1 ms → 1100.0000000000002 µs) is not
   * allowed to add a microsecond.
   */
  virtualDelayUs(localDelayUs: number): number {
    const exact = localDelayUs / this.rate;
    const nearest = Math.round(exact);
    return Math.abs(exact - nearest) < 1e-6 ? nearest : Math.ceil(exact);
  }

  /**
   * Applies a new skew from `virtualNowUs` on. An offset that would move the local clock
   * backwards is not applied as a step: the clock holds its current reading and continues at the
   * new rate (as NTP slews rather than steps a monotonic clock). Forward offsets are jumps.
   */
  set(virtualNowUs: number, skew: ClockSkew): void {
    const current = this.localUs(virtualNowUs);
    let local = current;
    if (skew.offsetMs !== undefined) {
      assert(Number.isFinite(skew.offsetMs), () => `clock offset must be finite, got ${skew.offsetMs}`);
      local = Math.max(current, virtualNowUs + skew.offsetMs * US_PER_MS);
    }
    this.anchorVirtual = virtualNowUs;
    this.anchorLocal = local;
    if (skew.driftPpm !== undefined) this.setDrift(skew.driftPpm);
  }

  private setDrift(ppm: number): void {
    assert(Number.isFinite(ppm) && ppm > -1e6, () => `clock drift must be > -1e6 ppm, got ${ppm}`);
    this.ppm = ppm;
    this.rate = 1 + ppm / 1e6;
  }
}

/**
 * The `Clock` a simulated node sees. Timers are events of the node's target, so pausing or
 * crashing the node holds or drops them. A timer's virtual firing time is fixed when it is set:
 * a later drift change affects only timers set afterwards (nodes re-arm their tick timer
 * constantly, so the lag is at most one tick).
 */
export class SimClock implements Clock {
  constructor(
    private readonly scheduler: TimerScheduler,
    private readonly target: number,
    private readonly skew: SkewModel,
  ) {}

  now(): number {
    return this.skew.localUs(this.scheduler.now()) / US_PER_MS;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    assert(Number.isFinite(delayMs) && delayMs >= 0, () => `timer delay must be finite and >= 0, got ${delayMs}`);
    return this.scheduler.schedule(this.skew.virtualDelayUs(delayMs * US_PER_MS), this.target, fn);
  }
}
