/**
 * The production Clock: monotonic milliseconds (performance.now, immune to wall-clock steps,
 * which would otherwise fire or starve election timers), setTimeout, and setImmediate for a
 * delay of 0 (setTimeout waits at least 1 ms).
 *
 * The clock owns every timer it hands out, so close() can clear them all at once: a stopped
 * node must not keep the process alive, nor wake up later and touch closed stores.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from './ports.ts';

export interface SystemClockOptions {
  /**
   * Receives what a timer callback throws. Left to escape, it would be an uncaught exception
   * on an unrelated stack; the node turns it into a fatal stop instead. Default: rethrow.
   */
  readonly onError?: (error: unknown) => void;
}

export class SystemClock implements Clock {
  private readonly timers = new Set<Timer>();
  private closed = false;
  private readonly onError: (error: unknown) => void;

  constructor(options: SystemClockOptions = {}) {
    this.onError =
      options.onError ??
      ((e) => {
        throw e;
      });
  }

  now(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    if (this.closed) return () => {};
    const run = (): void => {
      this.timers.delete(handle);
      if (this.closed) return;
      try {
        fn();
      } catch (e) {
        this.onError(e);
      }
    };
    // setTimeout(0) waits at least a millisecond; "as soon as possible" (the Ready loop's
    // coalescing of one turn's proposals) must not add that to every write.
    const handle: Timer = delayMs <= 0 ? { immediate: setImmediate(run) } : { timeout: setTimeout(run, delayMs) };
    this.timers.add(handle);
    return () => {
      cancel(handle);
      this.timers.delete(handle);
    };
  }

  /** Timers currently pending (for tests: a closed node must leave none). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Cancels every pending timer; later setTimer calls schedule nothing. Idempotent. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) cancel(t);
    this.timers.clear();
  }
}

type Timer = { readonly timeout: NodeJS.Timeout } | { readonly immediate: NodeJS.Immediate };

function cancel(t: Timer): void {
  if ('timeout' in t) clearTimeout(t.timeout);
  else clearImmediate(t.immediate);
}
