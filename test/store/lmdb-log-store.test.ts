import { open, type Database, type RootDatabase } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { LOG_COMPACTION_SLICE, LmdbLogStore, type LmdbLogStoreOptions } from '../../src/store/lmdb-log-store.ts';
import { immediateDefer } from '../../src/store/memory-log-store.ts';
import { u64be } from '../../src/util/u64be.ts';
import { dump, ent, ents, hs, persist, persistSnapshot, snap } from './log-fixtures.ts';
import { describeLogStoreConformance, type LogStoreHarness } from './log-store-conformance.ts';
import { closeLater, tempDir } from './lmdb-fixtures.ts';
import { expectCode } from './sm-harness.ts';

const ID = { clusterId: 'c1', nodeId: 1 };

function harness(defer?: LmdbLogStoreOptions['defer'], asyncCommits = false): () => LogStoreHarness {
  return () => {
    const dir = tempDir('tessera-log-');
    const options = { ...ID, ...(defer ? { defer } : {}), asyncCommits };
    let store = closeLater(LmdbLogStore.open(dir, options));
    return {
      get store() {
        return store;
      },
      async reopen() {
        await store.close();
        store = closeLater(LmdbLogStore.open(dir, options));
        return store;
      },
    };
  };
}

describeLogStoreConformance('LmdbLogStore (acknowledged in a microtask)', harness(), { snapshots: 'metadataOnly' });
describeLogStoreConformance('LmdbLogStore (simulator mode: injected defer, immediate)', harness(immediateDefer), { snapshots: 'metadataOnly' });
describeLogStoreConformance('LmdbLogStore (asynchronous commits on the writer thread)', harness(undefined, true), { snapshots: 'metadataOnly' });

/**
 * A raw lmdb-js handle on a log store's directory and its entries table, behind the store's
 * back (a second handle in the same process shares the native environment; it reads committed
 * state only).
 */
function openRawEntries(dir: string): { env: RootDatabase; entries: Database<Buffer, Uint8Array> } {
  const env = open({ path: dir, maxDbs: 8, overlappingSync: false });
  return { env, entries: env.openDB<Buffer, Uint8Array>('entries', { encoding: 'binary', keyEncoding: 'binary' }) };
}

/** Flips one byte of the stored value of entry `index`, with a raw LMDB handle on the closed store's directory. */
async function flipEntryByte(dir: string, index: number, at: number): Promise<void> {
  const { env, entries: db } = openRawEntries(dir);
  const key = Buffer.from(u64be(index));
  const value = Buffer.from(db.getBinary(key)!);
  value[at % value.length] = value[at % value.length]! ^ 0x01;
  env.transactionSync(() => db.putSync(key, value));
  await env.close();
}

/** Deletes entry `index` behind the closed store's back, with a raw LMDB handle on its directory. */
async function removeStoredEntry(dir: string, index: number): Promise<void> {
  const { env, entries: db } = openRawEntries(dir);
  env.transactionSync(() => db.removeSync(Buffer.from(u64be(index))));
  await env.close();
}

describe('LmdbLogStore', () => {
  it('deletes compacted entries a slice per later save, and reopens with some still stored', async () => {
    const dir = tempDir('tessera-log-');
    let store = LmdbLogStore.open(dir, ID);
    await persist(store, hs(1, 1, 0), ents(1, 3000, 1));
    await persistSnapshot(store, snap(2900, 1));
    const { env: raw, entries: rawEntries } = openRawEntries(dir);
    const storedUpTo = (i: number) => {
      raw.resetReadTxn();
      return rawEntries.getKeysCount({ end: Buffer.from(u64be(i + 1)) });
    };
    // The snapshot's own transaction deleted nothing: the covered entries are only unreachable.
    expect(storedUpTo(2900)).toBe(2900);
    expect([store.firstIndex(), store.lastIndex()]).toEqual([2901, 3000]);
    expectCode(() => store.term(2899), 'COMPACTED');
    expectCode(() => store.entries(2900, 2902, Infinity), 'COMPACTED');
    expect(store.entries(2901, 3001, Infinity)).toEqual(ents(2901, 3000, 1));

    await persist(store, null, [ent(3001, 1)]);
    expect(storedUpTo(2900)).toBe(2900 - LOG_COMPACTION_SLICE);
    await persist(store, null, ents(3002, 3201, 1)); // 200 entries: deletes 400
    expect(storedUpTo(2900)).toBe(2900 - LOG_COMPACTION_SLICE - 400);

    // Reopened with compacted entries still stored: they are found and the deletion goes on.
    await store.close();
    store = closeLater(LmdbLogStore.open(dir, ID));
    expect([store.firstIndex(), store.lastIndex()]).toEqual([2901, 3201]);
    expect(store.entries(2901, 3202, Infinity)).toHaveLength(301);
    let saves = 0;
    for (let i = 3202; storedUpTo(2900) > 0; i++, saves++) await persist(store, null, [ent(i, 1)]);
    expect(saves).toBe(Math.ceil((2900 - LOG_COMPACTION_SLICE - 400) / LOG_COMPACTION_SLICE));
    expect(storedUpTo(Number.MAX_SAFE_INTEGER - 1)).toBe(store.lastIndex() - 2900);
    await raw.close();
  });

  it('drops entries after a snapshot that disagrees with them at once; after a reopen deletes only what is stored', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    await persist(store, hs(2, 1, 0), [...ents(1, 5, 1), ...ents(6, 10, 2)]);
    await persistSnapshot(store, snap(8, 3)); // term 3 at 8: our entries 6..10 of term 2 disagree
    expect([store.firstIndex(), store.lastIndex()]).toEqual([9, 8]);
    await persist(store, null, ents(9, 12, 3));
    expect(store.entries(9, 13, Infinity)).toEqual(ents(9, 12, 3));
    // A snapshot far past the log, with compacted entries 9..12 left to delete at a reopen:
    // the range to delete ends at the last stored one, not at the snapshot.
    await persistSnapshot(store, snap(1_000_000, 4));
    await store.close();
    let reopened = LmdbLogStore.open(dir, ID);
    expect((reopened as unknown as { stale: { from: number; to: number } }).stale).toEqual({ from: 9, to: 12 });
    await persist(reopened, null, [ent(1_000_001, 4)]);
    expect((reopened as unknown as { stale: { from: number; to: number } }).stale.from).toBeGreaterThan(12);
    await reopened.close();
    reopened = LmdbLogStore.open(dir, ID);
    expect([reopened.firstIndex(), reopened.lastIndex()]).toEqual([1_000_001, 1_000_001]);
    await reopened.close();
  });

  it('still refuses a hole after the snapshot', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    await persist(store, hs(2, 1, 0), [...ents(1, 5, 1), ...ents(6, 10, 2)]);
    await persistSnapshot(store, snap(8, 3));
    await persist(store, null, ents(9, 12, 3));
    await store.close();
    await removeStoredEntry(dir, 10);
    expectCode(() => LmdbLogStore.open(dir, ID), 'CORRUPTION');
  });

  it('commits an asynchronous save whole: another reader never sees part of it', async () => {
    const dir = tempDir('tessera-log-');
    const store = closeLater(LmdbLogStore.open(dir, { ...ID, asyncCommits: true }));
    await persist(store, hs(1, 1, 0), [ent(1, 1)]);
    // A second handle on the same environment reads committed state only (lmdb-js shares the
    // native environment within a process; our stores' claim does not cover a raw handle).
    const { env: raw, entries } = openRawEntries(dir);
    const seen = new Set<string>();
    for (let round = 0; round < 5; round++) {
      const first = store.lastIndex() + 1;
      const batch = ents(first, first + 2999, 1);
      let done = false;
      const saved = persist(store, hs(1, 1, first + 2999), batch).then(() => (done = true));
      while (!done) {
        raw.resetReadTxn();
        const count = entries.getKeysCount({ start: Buffer.from(u64be(first)) });
        expect([0, 3000], `entries of the save in flight visible to a reader: ${count}`).toContain(count);
        seen.add(String(count));
        await new Promise((r) => setImmediate(r));
      }
      await saved;
    }
    expect(seen.has('0') || seen.has('3000')).toBe(true);
    await raw.close();
  });

  it('starts an asynchronous save at once: it commits while the event loop is still busy', async () => {
    const dir = tempDir('tessera-log-');
    const store = closeLater(LmdbLogStore.open(dir, { ...ID, asyncCommits: true }));
    await persist(store, hs(1, 1, 0), [ent(1, 1)]);
    const { env: raw, entries } = openRawEntries(dir);
    for (let index = 2; index <= 4; index++) {
      const saved = persist(store, hs(1, 1, 0), [ent(index, 1)]);
      // The store issues the write from a microtask (saves are chained); then the loop does not
      // turn until the entry is committed (or 5 s passed), as when other work follows at once:
      // only lmdb-js's writer thread can commit it meanwhile, and only if the save started it.
      for (let hop = 0; hop < 10; hop++) await Promise.resolve();
      const deadline = performance.now() + 5000;
      let committed = false;
      while (!committed && performance.now() < deadline) {
        raw.resetReadTxn();
        committed = entries.getBinary(Buffer.from(u64be(index))) !== undefined;
      }
      expect(committed, `entry ${index} committed while the event loop was held`).toBe(true);
      await saved;
    }
    await raw.close();
  });

  it('detects a flipped byte anywhere in a stored entry and names the index, never returning the bytes', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    await persist(store, hs(1, 1, 0), [ent(1, 1), ent(2, 1, 'x'.repeat(40)), ent(3, 1)]);
    await store.close();
    const entryBytes = 4 + 1 + 1 + 40; // crc, term, type, data
    for (let at = 0; at < entryBytes; at++) {
      await flipEntryByte(dir, 2, at);
      const s = LmdbLogStore.open(dir, ID);
      expect(s.lastIndex()).toBe(3); // opening reads keys only
      expect(s.entries(1, 2, Infinity)).toEqual([ent(1, 1)]);
      for (const read of [() => s.term(2), () => s.entries(1, 4, Infinity), () => s.entries(2, 3, 0)]) {
        let error: unknown;
        try {
          read();
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ code: 'CORRUPTION' });
        expect(String(error)).toContain('log entry 2');
      }
      await s.close();
      await flipEntryByte(dir, 2, at); // flip back
    }
    const healed = closeLater(LmdbLogStore.open(dir, ID));
    expect(healed.entries(2, 3, Infinity)).toEqual([ent(2, 1, 'x'.repeat(40))]);
  });

  it('detects an entry stored under the wrong index', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    await persist(store, null, [ent(1, 1), ent(2, 1)]);
    await store.close();
    const { env, entries: db } = openRawEntries(dir);
    const one = db.getBinary(Buffer.from(u64be(1)))!;
    env.transactionSync(() => db.putSync(Buffer.from(u64be(2)), one));
    await env.close();
    const s = closeLater(LmdbLogStore.open(dir, ID));
    expectCode(() => s.term(2), 'CORRUPTION');
  });

  it('refuses to open a log with a hole', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    await persist(store, null, ents(1, 3, 1));
    await store.close();
    await removeStoredEntry(dir, 2);
    expectCode(() => LmdbLogStore.open(dir, ID), 'CORRUPTION');
    // The failed open released the directory: a repaired log opens again.
    const { env: env2, entries: db2 } = openRawEntries(dir);
    env2.transactionSync(() => db2.removeSync(Buffer.from(u64be(3))));
    await env2.close();
    expect(closeLater(LmdbLogStore.open(dir, ID)).lastIndex()).toBe(1);
  });

  it('belongs to one cluster and node: opening as another throws IDENTITY_MISMATCH', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    await persist(store, hs(1, 1, 0), [ent(1, 1)]);
    await store.close();
    expectCode(() => LmdbLogStore.open(dir, { clusterId: 'other', nodeId: 1 }), 'IDENTITY_MISMATCH');
    expectCode(() => LmdbLogStore.open(dir, { clusterId: 'c1', nodeId: 2 }), 'IDENTITY_MISMATCH');
    const same = closeLater(LmdbLogStore.open(dir, ID));
    expect(same.lastIndex()).toBe(1);
  });

  it('validates its identity arguments and refuses a directory already open', () => {
    const dir = tempDir('tessera-log-');
    expectCode(() => LmdbLogStore.open(dir, { clusterId: '', nodeId: 1 }), 'INVALID_ARGUMENT');
    expectCode(() => LmdbLogStore.open(dir, { clusterId: 'c', nodeId: 0 }), 'INVALID_ARGUMENT');
    closeLater(LmdbLogStore.open(dir, ID));
    expectCode(() => LmdbLogStore.open(dir, ID), 'INVALID_ARGUMENT');
  });

  it('keeps snapshot metadata only, across reopen', async () => {
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, ID);
    expect(store.snapshot()).toBeNull();
    await persist(store, null, ents(1, 5, 1));
    await persistSnapshot(store, snap(3, 1, 'big state machine image'));
    expect(store.snapshot()).toEqual({ meta: snap(3, 1).meta, data: new Uint8Array(0) });
    await store.close();
    const reopened = closeLater(LmdbLogStore.open(dir, ID));
    expect(reopened.snapshot()).toEqual({ meta: snap(3, 1).meta, data: new Uint8Array(0) });
    expect(reopened.firstIndex()).toBe(4);
  });

  it('acknowledges in call order even if the injected defer runs jobs out of order', () => {
    const jobs: (() => void)[] = [];
    const store = closeLater(LmdbLogStore.open(tempDir('tessera-log-'), { ...ID, defer: (job) => void jobs.push(job) }));
    const acked: number[] = [];
    for (let i = 1; i <= 3; i++) store.save(null, [ent(i, 1)], () => acked.push(i));
    // Visible (and durable) before acknowledged.
    expect(store.lastIndex()).toBe(3);
    jobs[1]!();
    expect(acked).toEqual([1, 2]);
    jobs[0]!();
    jobs[2]!();
    expect(acked).toEqual([1, 2, 3]);
  });

  it('throws CLOSED after close and drops acknowledgements still queued', async () => {
    const jobs: (() => void)[] = [];
    const dir = tempDir('tessera-log-');
    const store = LmdbLogStore.open(dir, { ...ID, defer: (job) => void jobs.push(job) });
    let acked = false;
    store.save(hs(1, 1, 0), [ent(1, 1)], () => (acked = true));
    await store.close();
    for (const job of jobs) job();
    expect(acked).toBe(false);
    expectCode(() => store.lastIndex(), 'CLOSED');
    expectCode(() => store.save(null, [], () => {}), 'CLOSED');
    // The write itself was durable when save returned.
    const reopened = closeLater(LmdbLogStore.open(dir, ID));
    expect(dump(reopened)).toMatchObject({ last: 1, hardState: hs(1, 1, 0) });
  });

  it('compacts a long log and truncates a long suffix in one transaction each', async () => {
    const { store } = harness()();
    await persist(store, null, ents(1, 3000, 1));
    await persist(store, null, [ent(1001, 2)]);
    expect(store.lastIndex()).toBe(1001);
    await persistSnapshot(store, snap(1000, 1));
    expect(store.firstIndex()).toBe(1001);
    expect(store.entries(1001, 1002, Infinity)).toEqual([ent(1001, 2)]);
  });
});
