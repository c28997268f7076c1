/**
 * Ends a client's (or a watch's) pending work at once when it is closed: every wait, sleep and
 * in-flight request is raced against the close, and every timer it started is cleared, so a
 * closed client neither keeps the process alive nor acts later (a late retry could propose).
 */
import { performance } from 'node:perf_hooks';
import { TesseraError } from '../errors.ts';

export class Lifetime {
  private error: TesseraError | null = null;
  private readonly onClose = new Set<(error: TesseraError) => void>();

  constructor(private readonly what: string) {}

  get closed(): boolean {
    return this.error !== null;
  }

  check(): void {
    if (this.error) throw this.error;
  }

  /** Rejects everything pending with CLOSED (or `error`); later calls fail the same way. Idempotent. */
  close(error = new TesseraError('CLOSED', `${this.what} is closed`)): void {
    if (this.error) return;
    this.error = error;
    const hooks = [...this.onClose];
    this.onClose.clear();
    for (const f of hooks) f(error);
  }

  /** A lifetime that ends with this one (with the same error), or on its own. */
  child(what: string): Lifetime {
    const child = new Lifetime(what);
    if (this.error) {
      child.close(this.error);
      return child;
    }
    const hook = (e: TesseraError) => child.close(e);
    this.onClose.add(hook);
    child.onClose.add(() => this.onClose.delete(hook));
    return child;
  }

  /** `p`, or CLOSED once this closes, or `onTimeout()` after timeoutMs (null: no timeout). */
  race<T>(p: Promise<T>, timeoutMs: number | null = null, onTimeout?: () => Error): Promise<T> {
    if (this.error) {
      p.catch(() => {}); // settled later with nobody listening
      return Promise.reject(this.error);
    }
    return new Promise<T>((resolve, reject) => {
      const race = new PendingRace(this.onClose, reject);
      if (timeoutMs !== null) race.timeAfter(timeoutMs, onTimeout);
      p.then(
        (v) => {
          race.done();
          resolve(v);
        },
        (e: unknown) => {
          race.done();
          reject(e);
        },
      );
    });
  }

  /** Resolves after ms; rejects CLOSED at once if this closes first. */
  sleep(ms: number): Promise<void> {
    return this.race(new Promise<void>(() => {}), ms, () => WOKE).catch((e: unknown) => {
      if (e !== WOKE) throw e;
    });
  }
}

const WOKE = new Error('woke');

/**
 * One race's close hook and timer. A class rather than local closures: every op races, and the
 * TypeScript loader (tsx, esbuild keepNames) names each local arrow function it creates with an
 * Object.defineProperty call, which cost 1% of bench:kv's event loop here alone.
 */
class PendingRace {
  private timer: NodeJS.Timeout | null = null;
  private readonly cancel: (e: Error) => void;

  constructor(
    private readonly hooks: Set<(error: TesseraError) => void>,
    reject: (e: unknown) => void,
  ) {
    this.cancel = (e) => {
      this.done();
      reject(e);
    };
    hooks.add(this.cancel);
  }

  timeAfter(ms: number, onTimeout: (() => Error) | undefined): void {
    this.timer = setTimeout(
      () => {
        this.done();
        this.cancel(onTimeout ? onTimeout() : new TesseraError('TIMEOUT', `no answer within ${ms} ms`));
      },
      Math.max(0, ms),
    );
  }

  done(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.hooks.delete(this.cancel);
  }
}

export function now(): number {
  return performance.now();
}
