/**
 * Runs async work over items with at most `concurrency` in flight, in item order of start. The
 * first failure stops new starts and is rethrown once the started ones settle, so nothing runs on
 * after the caller has seen the error.
 */
import { TesseraError } from '../errors.ts';

export async function forEachConcurrent<T>(items: Iterable<T> | AsyncIterable<T>, concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  // Callers pass their users' `concurrency` option straight through: a typed error, not a RangeError.
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new TesseraError('INVALID_ARGUMENT', `concurrency must be an integer >= 1, got ${concurrency}`);
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | null = null;
  let index = 0;
  for await (const item of items) {
    if (failure !== null) break;
    const p: Promise<void> = fn(item, index++).then(
      () => {
        running.delete(p);
      },
      (error: unknown) => {
        running.delete(p);
        failure ??= { error };
      },
    );
    running.add(p);
    if (running.size >= concurrency) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== null) throw (failure as { error: unknown }).error;
}
