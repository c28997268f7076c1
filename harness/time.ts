/** Wall-clock helpers of the harness (real processes, real time: no simulated clock here). */

/** Milliseconds on a monotonic clock. */
export function nowMs(): number {
  return performance.now();
}

/** Resolves after `ms` (at most 2^31-1), or at once when `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, 2_147_483_647));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `p`, or a rejection with `message` after `ms`. The timer never outlives the race. */
export async function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}
