/**
 * KvBackend over one LMDB environment: a named LMDB database per table, one write transaction
 * per batch (transactionSync: atomic, and durable when it returns; or, with asyncCommits, an
 * lmdb-js asynchronous transaction committed on its writer thread), read transactions for views.
 */
import fs from 'node:fs';
import type { RootDatabase, Transaction } from 'lmdb';
import { assert } from '../util/assert.ts';
import { copyBytes } from '../util/alloc.ts';
import { asUint8Array } from '../util/bytes.ts';
import { KV_TABLES, type KvBackend, type KvEntry, type KvSnapshotView, type KvTable } from './kv-backend.ts';
import { buf, openBinaryDb, openEnv, syncEnv, type BinaryDb } from './lmdb-env.ts';

export class LmdbKvBackend implements KvBackend {
  private inBatch = false;
  private openViews = 0;
  private closing: Promise<void> | null = null;
  private whenUnused: (() => void) | null = null;

  private constructor(
    readonly dir: string,
    private readonly env: RootDatabase,
    private readonly dbs: Record<KvTable, BinaryDb>,
  ) {}

  /**
   * `asyncCommits` adds batchAsync; without it every batch commits synchronously (as the
   * simulator needs: each step on its own clock).
   */
  static open(dir: string, options: { readonly asyncCommits?: boolean; readonly lazyMetaSync?: boolean } = {}): LmdbKvBackend {
    const env = openEnv(dir, { lazyMetaSync: options.lazyMetaSync ?? false });
    const dbs = Object.fromEntries(KV_TABLES.map((t) => [t, openBinaryDb(env, t)])) as Record<KvTable, BinaryDb>;
    const backend = new LmdbKvBackend(dir, env, dbs);
    if (options.asyncCommits) backend.batchAsync = (fn, done) => backend.commitAsync(fn, done);
    return backend;
  }

  batchAsync?: <T>(fn: () => T, done: (error: Error | undefined, value: T | undefined) => void) => void;

  get(table: KvTable, key: Uint8Array): Uint8Array | undefined {
    return get(this.dbs[table], key, undefined, LARGE_VALUE_TABLES.has(table));
  }

  range(table: KvTable, start: Uint8Array, end: Uint8Array | null, limit: number): KvEntry[] {
    return range(this.dbs[table], start, end, limit, undefined);
  }

  batch<T>(fn: () => T): T {
    assert(!this.inBatch, 'lmdb kv: batches do not nest');
    assert(this.closing === null, 'lmdb kv: backend is closed');
    this.inBatch = true;
    try {
      return this.env.transactionSync(fn);
    } finally {
      this.inBatch = false;
    }
  }

  /**
   * An lmdb-js asynchronous child transaction: fn runs on this thread when lmdb-js starts its
   * next write batch, and the commit (with its fsync) runs on lmdb-js's writer thread, so the
   * event loop is free meanwhile. A throwing fn aborts only its child transaction.
   */
  private commitAsync<T>(fn: () => T, done: (error: Error | undefined, value: T | undefined) => void): void {
    assert(this.closing === null, 'lmdb kv: backend is closed');
    let value: T | undefined;
    this.env
      .childTransaction(() => {
        assert(!this.inBatch, 'lmdb kv: batches do not nest');
        this.inBatch = true;
        try {
          value = fn();
        } finally {
          this.inBatch = false;
        }
      })
      .then(
        () => done(undefined, value),
        (e: unknown) => done(e instanceof Error ? e : new Error(String(e)), undefined),
      );
  }

  /** Makes every committed batch durable (needed only with lazyMetaSync; harmless otherwise). */
  sync(): void {
    assert(this.closing === null, 'lmdb kv: backend is closed');
    syncEnv(this.env);
  }

  put(table: KvTable, key: Uint8Array, value: Uint8Array): void {
    assert(this.inBatch, 'lmdb kv: writes only inside a batch');
    this.dbs[table].putSync(buf(key), buf(value));
  }

  delete(table: KvTable, key: Uint8Array): boolean {
    assert(this.inBatch, 'lmdb kv: writes only inside a batch');
    return this.dbs[table].removeSync(buf(key));
  }

  openView(): KvSnapshotView {
    assert(this.closing === null, 'lmdb kv: backend is closed');
    const txn = this.env.useReadTransaction();
    this.openViews++;
    let open = true;
    return {
      get: (table, key) => get(this.dbs[table], key, txn),
      range: (table, start, end, limit) => range(this.dbs[table], start, end, limit, txn),
      close: () => {
        if (!open) return;
        open = false;
        txn.done();
        if (--this.openViews === 0) this.whenUnused?.();
      },
    };
  }

  /** Closes the environment once no view uses it (a snapshot may still be streaming from it). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.whenUnused = () => resolve(this.env.close());
      if (this.openViews === 0) this.whenUnused();
    });
    return this.closing;
  }

  /** The environment is closed (lmdb-js closes synchronously when nothing was pending). */
  get isClosed(): boolean {
    return (this.env as { status?: string }).status === 'closed';
  }

  /** Closes, then deletes the environment's directory. */
  async destroy(): Promise<void> {
    await this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Tables of megabyte values: lmdb-js's getBinary reads those straight into a buffer of their
 * own, where the shared read buffer would cost a second copy (and a zero-filled allocation).
 */
const LARGE_VALUE_TABLES: ReadonlySet<KvTable> = new Set(['chunks']);

function get(db: BinaryDb, key: Uint8Array, transaction: Transaction | undefined, large = false): Uint8Array | undefined {
  if (transaction || large) {
    const v = transaction ? db.get(buf(key), { transaction }) : db.getBinary(buf(key));
    return v === undefined ? undefined : asUint8Array(v);
  }
  // getBinaryFast fills lmdb-js's shared read buffer (valid until its next read): copied out at
  // once into pooled memory, which is cheaper than getBinary's own fresh copy (see alloc.ts).
  const v = db.getBinaryFast(buf(key));
  return v === undefined ? undefined : copyBytes(v, 0, v.length);
}

function range(db: BinaryDb, start: Uint8Array, end: Uint8Array | null, limit: number, transaction: Transaction | undefined): KvEntry[] {
  const out: KvEntry[] = [];
  const options = {
    ...(start.length > 0 ? { start: buf(start) } : {}),
    ...(end !== null ? { end: buf(end) } : {}),
    ...(transaction ? { transaction } : {}),
    limit,
  };
  for (const { key, value } of db.getRange(options)) {
    out.push({ key: asUint8Array(key as Uint8Array), value: asUint8Array(value) });
  }
  return out;
}
