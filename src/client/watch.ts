/**
 * A watch: every change to the watched keys, exactly once, in revision order, across node
 * failures and leader changes.
 *
 * The event log is replicated state: every replica holds the same events for the same
 * revisions (only its length differs while it catches up). So the watch is just a cursor
 * (revision, sub) read page by page from any node; after a failure it resumes on another node
 * from the cursor, and nothing is skipped or repeated. A node is only trusted to be part of the
 * live cluster after a read barrier on it, renewed whenever it has been idle for watchIdleMs:
 * otherwise a partitioned follower would keep the watch silently waiting forever. Events the
 * cluster has already trimmed are never skipped: that surfaces as COMPACTED.
 */
import { TesseraError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import type { KvEvent } from '../store/kv-state-machine.ts';
import { MAX_RANGE_LIMIT } from '../store/kv-limits.ts';
import type { Endpoint } from './endpoint.ts';
import type { Lifetime } from './lifetime.ts';
import { isRetryable, type Router } from './router.ts';
import type { WatchEvent } from './types.ts';
import { toEntry } from './values.ts';

const DEFAULT_PAGE = 1000;

export interface WatchContext {
  readonly router: Router;
  /** The watch's own lifetime (a child of the client's). */
  readonly life: Lifetime;
  readonly idleMs: number;
  observe(revision: number): void;
}

export class Watch implements AsyncIterableIterator<WatchEvent> {
  private readonly buffer: WatchEvent[] = [];
  /** Next event to read: (revision, sub). Null until the start point is fixed. */
  private cursor: { revision: number; sub: number } | null;
  private node: NodeId = 0;
  /** The node's applied index as last seen; -1: the node must pass a barrier first. */
  private applied = -1;
  private failures = 0;
  private finished = false;
  private stoppedByUser = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pageSize: number;

  constructor(
    private readonly ctx: WatchContext,
    private readonly matches: (key: Uint8Array) => boolean,
    fromRevision: number | undefined,
    pageSize = DEFAULT_PAGE,
  ) {
    if (fromRevision !== undefined && (!Number.isSafeInteger(fromRevision) || fromRevision < 0)) {
      throw new TesseraError('INVALID_ARGUMENT', `fromRevision must be a non-negative integer, got ${fromRevision}`);
    }
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_RANGE_LIMIT) {
      throw new TesseraError('INVALID_ARGUMENT', `watch pageSize must be in 1..${MAX_RANGE_LIMIT}, got ${pageSize}`);
    }
    this.pageSize = pageSize;
    // Revisions start at 1 (they are log indexes).
    this.cursor = fromRevision === undefined ? null : { revision: Math.max(1, fromRevision), sub: 0 };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next revision this watch will deliver from (undefined until it has started). */
  get nextRevision(): number | undefined {
    return this.cursor?.revision;
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    // One step at a time, so concurrent next() calls get events in order.
    const step = this.queue.then(() => this.step());
    this.queue = step.catch(() => {});
    return step;
  }

  /** Ends the watch; a pending next() resolves as done. Idempotent. */
  close(): void {
    this.stoppedByUser = true;
    this.ctx.life.close(new TesseraError('CLOSED', 'watch is closed'));
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  private async step(): Promise<IteratorResult<WatchEvent>> {
    try {
      for (;;) {
        // Checked before the buffer, so nothing read ahead is delivered after a close.
        if (this.finished || this.stoppedByUser) return { done: true, value: undefined };
        this.ctx.life.check();
        if (this.buffer.length > 0) return { done: false, value: this.buffer.shift()! };
        await this.fill();
      }
    } catch (e) {
      if (this.stoppedByUser) return { done: true, value: undefined };
      this.finished = true;
      this.ctx.life.close(); // releases its hook on the client's lifetime
      throw e;
    }
  }

  /** Reads until the buffer has events, failing over between nodes on retryable errors. */
  private async fill(): Promise<void> {
    const { router, life } = this.ctx;
    while (this.buffer.length === 0) {
      life.check();
      const ep = router.endpoint(this.node) ?? router.endpoint(router.choose());
      if (ep === null) {
        await life.sleep(router.backoffMs(this.failures++));
        continue;
      }
      if (ep.id !== this.node) {
        this.node = ep.id;
        this.applied = -1;
      }
      try {
        await this.readFrom(ep);
        this.failures = 0;
      } catch (e) {
        life.check();
        if (!isRetryable(e)) throw e;
        this.node = router.after('any', ep.id);
        this.applied = -1;
        await life.sleep(router.backoffMs(this.failures++));
      }
    }
  }

  private async readFrom(ep: Endpoint): Promise<void> {
    const { life, router } = this.ctx;
    const within = <T>(p: Promise<T>) =>
      life.race(p, router.options.attemptTimeoutMs, () => new TesseraError('TIMEOUT', `watch: node ${ep.id} did not answer in time`));
    if (this.applied < 0) {
      const index = await within(ep.readBarrier());
      this.ctx.observe(index);
      this.applied = index;
      this.cursor ??= { revision: index + 1, sub: 0 };
    }
    const cursor = this.cursor!;
    const events = await within(ep.events(cursor.revision, this.pageSize, cursor.sub));
    for (const e of events) this.deliver(e);
    if (events.length === this.pageSize || this.buffer.length > 0) return;
    // Caught up with this node: sleep until it applies more. Silence for idleMs gets the node
    // re-checked with a barrier (a stopped node answers at once, with no progress).
    const idle = this.ctx.idleMs;
    const applied = await life.race(ep.waitApplied(this.applied, idle), idle + router.options.attemptTimeoutMs);
    if (applied > this.applied) this.applied = applied;
    else this.applied = -1;
  }

  private deliver(e: KvEvent): void {
    const c = this.cursor!;
    if (e.revision < c.revision || (e.revision === c.revision && e.sub < c.sub)) {
      throw new TesseraError('INVARIANT', `watch: event ${e.revision}.${e.sub} is before the cursor ${c.revision}.${c.sub}`);
    }
    this.cursor = { revision: e.revision, sub: e.sub + 1 };
    if (!this.matches(e.key)) return;
    const entry = toEntry(e.key, e.record);
    this.buffer.push({ type: e.type, key: entry.key, value: entry.value, revision: e.revision, sub: e.sub, entry });
  }
}
