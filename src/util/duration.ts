/** The one check of a configured duration, for every option that ends up in a timer. */
import { TesseraError } from '../errors.ts';
import { MAX_TIMER_MS } from '../limits.ts';

/** `ms`, if it is a number of milliseconds in (0, MAX_TIMER_MS]; INVALID_ARGUMENT otherwise. */
export function checkDurationMs(what: string, ms: unknown): number {
  if (typeof ms !== 'number' || !(ms > 0 && ms <= MAX_TIMER_MS)) {
    throw new TesseraError('INVALID_ARGUMENT', `${what} must be a number of milliseconds in (0, ${MAX_TIMER_MS}], got ${String(ms)}`);
  }
  return ms;
}
