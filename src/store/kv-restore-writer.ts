/**
 * Installs a streamed image into a fresh, empty state (a KvRestoreTarget) and swaps it in only
 * when the image proved complete and consistent, so a restore that fails or is aborted at any
 * point leaves the old state untouched.
 */
import { TesseraError } from '../errors.ts';
import type { SnapshotMeta } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import { bytesEqual } from '../util/bytes.ts';
import type { KvReadView, KvRestoreTarget, KvTable } from './kv-backend.ts';
import { KvImageParser, type ImageRecord } from './kv-image-parser.ts';
import { META_APPLIED, readApplied, readEvents, readSessions } from './kv-meta.ts';
import type { SnapshotWriter } from './kv-state-machine.ts';

export class KvRestoreWriter implements SnapshotWriter {
  private readonly parser: KvImageParser;
  private readonly counts = new Map<KvTable, number>();
  /** The meta rows, kept to check the image against itself and against `meta`: they are few. */
  private readonly metaRows: ImageRecord[] = [];
  private state: 'open' | 'finished' | 'aborted' = 'open';

  constructor(
    private readonly meta: SnapshotMeta,
    private readonly target: KvRestoreTarget,
  ) {
    this.parser = new KvImageParser((records) => {
      for (const r of records) {
        this.counts.set(r.table, (this.counts.get(r.table) ?? 0) + 1);
        if (r.table === 'meta') this.metaRows.push(r);
      }
      this.target.write(records);
    });
  }

  get active(): boolean {
    return this.state === 'open';
  }

  write(chunk: Uint8Array): void {
    this.checkOpen();
    this.guard(() => this.parser.push(chunk));
  }

  finish(): void {
    this.checkOpen();
    this.guard(() => {
      this.parser.end();
      this.checkConsistent();
      this.target.commit();
    });
    this.state = 'finished';
  }

  abort(): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.target.discard();
  }

  private checkConsistent(): void {
    const view: KvReadView = {
      get: (table, key) => (table === 'meta' ? this.metaRows.find((r) => bytesEqual(r.key, key))?.value : undefined),
      range: () => [],
    };
    const applied = readApplied(view);
    if (applied.index !== this.meta.index || applied.term !== this.meta.term) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `snapshot image is at ${applied.index}/${applied.term}, its metadata says ${this.meta.index}/${this.meta.term}`,
      );
    }
    if (this.meta.index > 0 && !this.metaRows.some((r) => bytesEqual(r.key, META_APPLIED))) {
      throw new TesseraError('CORRUPTION', 'snapshot image has no applied index');
    }
    const n = (t: KvTable) => this.counts.get(t) ?? 0;
    const sessions = readSessions(view).count;
    const events = readEvents(view).count;
    // Events are stored in blocks (kv-events.ts), each holding at least one kept event but the
    // last, which stays even when all of its events were trimmed.
    if (n('sessions') !== sessions || n('lru') !== sessions || n('events') > events + 1) {
      throw new TesseraError(
        'CORRUPTION',
        `snapshot image counts disagree: ${n('sessions')} sessions, ${n('lru')} LRU rows, ${n('events')} event blocks; meta says ${sessions} sessions and ${events} events`,
      );
    }
  }

  /** Runs fn; on any error discards the target (the old state stays) and rethrows. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  private checkOpen(): void {
    assert(this.state === 'open', () => `snapshot writer is ${this.state}`);
  }
}
