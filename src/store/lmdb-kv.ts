/**
 * The durable key-value state machine: the shared semantics (KvStateMachineCore) over LMDB.
 *
 * Every apply batch is ONE LMDB write transaction holding the batch's effects, the session and
 * event bookkeeping and the applied index/term, so after a crash the state is exactly that of
 * some applied index: the runtime replays the log from appliedIndex() + 1, and since entries
 * apply strictly in index order (asserted) nothing is applied twice or skipped. Per-batch
 * durability is not what makes this correct; what correctness needs is that the log keeps
 * every entry above the state machine's durable applied index, i.e. the log is compacted only
 * up to a snapshot index the state machine has durably reached. By default our commits are
 * durable when they complete (lmdb-env.ts), so every applied index the runtime sees qualifies.
 * With `lazyMetaSync` a commit skips its meta-page flush (LMDB's NOMETASYNC: integrity kept, the
 * last commit may be undone by a system crash, never a process crash), and the runtime calls
 * makeDurable() before it compacts the log up to the applied index; a restore is made durable
 * before it is switched in. (MDB_NOSYNC was considered too: it risks LMDB's integrity on power
 * loss, so it is not used.)
 *
 * Layout: `dir/CURRENT` names the live environment, a subdirectory `state-<n>`. A restore fills
 * a fresh `state-<n+1>` (each write() is a durable transaction), then switches CURRENT with
 * write-temp + fsync + rename + fsync(dir) — the atomic step — and only then closes and deletes
 * the old environment. A crash before the rename leaves the old state live and the new directory
 * is deleted on the next open; after it, the new state is live and the old one is deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TesseraError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import type { KvBackend, KvRestoreTarget } from './kv-backend.ts';
import type { KvLimits } from './kv-limits.ts';
import { KvStateMachineCore, type KvStorage } from './kv-state-machine-core.ts';
import { LmdbKvBackend, type LmdbKvBackendOptions } from './lmdb-kv-backend.ts';
import { claimDirectory, type DirectoryClaim, makeDataDirectory, writeFileAtomic } from './lmdb-env.ts';

type StorageFlags = LmdbKvBackendOptions & { readonly asyncCommits: boolean; readonly lazyMetaSync: boolean };

const CURRENT = 'CURRENT';
const STATE_DIR = /^state-(\d+)$/;

export interface LmdbKvOptions {
  /** Must be the same on every replica (kv-limits.ts); the defaults if omitted. */
  readonly limits?: KvLimits;
  /**
   * Commit apply batches on lmdb-js's writer thread (applyAsync) instead of blocking the event
   * loop in each fsync. For real nodes; the simulator keeps synchronous commits.
   */
  readonly asyncCommits?: boolean;
  /** Commits without their meta-page flush; see the top of this file and lmdb-env.ts. */
  readonly lazyMetaSync?: boolean;
  /** With asyncCommits: how long apply batches share one commit (default STATE_COMMIT_WINDOW_MS). */
  readonly commitWindowMs?: number;
}

export class LmdbKvStateMachine extends KvStateMachineCore {
  private constructor(storage: LmdbKvStorage, limits: KvLimits | undefined) {
    super(storage, limits);
  }

  /** Opens (creating if needed) the state machine kept in `dir`. */
  static open(dir: string, options: LmdbKvOptions = {}): LmdbKvStateMachine {
    return new LmdbKvStateMachine(
      LmdbKvStorage.open(dir, {
        asyncCommits: options.asyncCommits ?? false,
        lazyMetaSync: options.lazyMetaSync ?? false,
        ...(options.commitWindowMs !== undefined && { commitWindowMs: options.commitWindowMs }),
      }),
      options.limits,
    );
  }
}

class LmdbKvStorage implements KvStorage {
  private retiring: Promise<void>[] = [];
  private target: { readonly backend: LmdbKvBackend; done: boolean } | null = null;

  private constructor(
    private readonly dir: string,
    private readonly claim: DirectoryClaim,
    private live: LmdbKvBackend,
    private nextNumber: number,
    private readonly flags: StorageFlags,
  ) {}

  get asyncCommits(): boolean {
    return this.flags.asyncCommits;
  }

  static open(dir: string, flags: StorageFlags): LmdbKvStorage {
    makeDataDirectory(dir);
    const claim = claimDirectory(dir);
    try {
      const numbers = fs
        .readdirSync(dir)
        .map((name) => STATE_DIR.exec(name)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number);
      const current = readCurrent(dir);
      const name = current ?? `state-${Math.max(0, ...numbers) + 1}`;
      // Leftovers of restores that crashed before or after their switch (or of a first open).
      for (const n of numbers) if (`state-${n}` !== name) fs.rmSync(path.join(dir, `state-${n}`), { recursive: true, force: true });
      const live = LmdbKvBackend.open(path.join(dir, name), flags);
      // Name the environment only once it exists, so CURRENT never points at nothing.
      if (current === null) writeFileAtomic(path.join(dir, CURRENT), `${name}\n`);
      return new LmdbKvStorage(dir, claim, live, Math.max(0, ...numbers, Number(STATE_DIR.exec(name)![1])) + 1, flags);
    } catch (e) {
      claim.release();
      throw e;
    }
  }

  backend(): KvBackend {
    return this.live;
  }

  makeDurable(): void {
    if (this.flags.lazyMetaSync) this.live.sync();
  }

  newRestoreTarget(): KvRestoreTarget {
    assert(this.target === null || this.target.done, 'lmdb kv: one restore at a time');
    const name = `state-${this.nextNumber++}`;
    const dir = path.join(this.dir, name);
    fs.rmSync(dir, { recursive: true, force: true });
    // Restores write synchronously; the backend then serves applies.
    const target = { backend: LmdbKvBackend.open(dir, this.flags), done: false };
    this.target = target;
    const finish = (): void => {
      assert(!target.done, 'lmdb kv: restore target already finished');
      target.done = true;
    };
    return {
      write: (entries) => {
        assert(!target.done, 'lmdb kv: restore target already finished');
        target.backend.batch(() => {
          for (const e of entries) target.backend.put(e.table, e.key, e.value);
        });
      },
      commit: () => {
        finish();
        // The whole image must be durable before CURRENT names it: the log is compacted next.
        if (this.flags.lazyMetaSync) target.backend.sync();
        writeFileAtomic(path.join(this.dir, CURRENT), `${name}\n`);
        const old = this.live;
        this.live = target.backend;
        this.retire(old);
      },
      discard: () => {
        if (target.done) return;
        finish();
        this.retire(target.backend);
      },
    };
  }

  /**
   * Closes and deletes an environment that is no longer live, once no snapshot reader uses it.
   * A failure to delete is harmless (the next open deletes every directory CURRENT does not
   * name), so it must not surface as an unhandled rejection.
   */
  private retire(backend: LmdbKvBackend): void {
    this.retiring.push(backend.destroy().catch(() => {}));
  }

  /**
   * Waits for open snapshot readers to be closed (their environment stays open until then). The
   * directory is released at once when everything closed synchronously, so it can be reopened
   * without awaiting (the simulator restarts nodes inside one synchronous event).
   */
  async close(): Promise<void> {
    const closing = Promise.all([...this.retiring, this.live.close()]);
    // Retiring environments live in other subdirectories and are deleted by whoever opens next anyway.
    if (this.live.isClosed) this.claim.release();
    try {
      await closing;
    } finally {
      this.claim.release();
    }
  }
}

function readCurrent(dir: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, CURRENT), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const name = text.trim();
  if (!STATE_DIR.test(name) || !fs.existsSync(path.join(dir, name))) {
    throw new TesseraError('CORRUPTION', `${path.join(dir, CURRENT)} names ${JSON.stringify(name)}, which is not a state directory here`);
  }
  return name;
}
