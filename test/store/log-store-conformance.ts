/**
 * The LogStore contract, run against every implementation (the memory twin and LMDB) so they
 * cannot drift. Only the ports.ts interface is used; `reopen` must close the store cleanly
 * (all writes acknowledged) and open it again on the same storage; `crash`, if given, must
 * lose power instead and reopen. A store whose snapshots are `metadataOnly` (LMDB: the state
 * machine keeps its own state) returns the snapshot's metadata with empty data.
 */
import { describe, expect, it } from 'vitest';
import { expectCode } from './sm-harness.ts';
import type { LogStore } from '../../src/node/ports.ts';
import { EMPTY_HARD_STATE, EntryType, entrySize, type Snapshot } from '../../src/raft/types.ts';
import { dump, ent, ents, hs, persist, persistSnapshot, snap } from './log-fixtures.ts';

export interface LogStoreHarness {
  readonly store: LogStore;
  reopen(): Promise<LogStore>;
  crash?(): LogStore;
}

export interface LogStoreConformanceOptions {
  readonly snapshots: 'withData' | 'metadataOnly';
  /** The harness can cut the power (lose unsynced writes); only a simulated disk can. */
  readonly powerLoss?: boolean;
}


export function describeLogStoreConformance(
  name: string,
  open: () => LogStoreHarness,
  options: LogStoreConformanceOptions = { snapshots: 'withData' },
): void {
  /** What snapshot() returns after saveSnapshot(s). */
  const stored = (s: Snapshot): Snapshot => (options.snapshots === 'withData' ? s : { meta: s.meta, data: new Uint8Array(0) });
  describe(`LogStore conformance: ${name}`, () => {
    it('starts empty', () => {
      const { store } = open();
      expect(store.initialState().hardState).toEqual(EMPTY_HARD_STATE);
      expect(store.initialState().snapshot.index).toBe(0);
      expect(store.initialState().snapshot.term).toBe(0);
      expect(store.firstIndex()).toBe(1);
      expect(store.lastIndex()).toBe(0);
      expect(store.term(0)).toBe(0);
      expect(store.snapshot()).toBeNull();
    });

    it('acknowledges in call order, also a save made from inside an acknowledgement', async () => {
      const { store } = open();
      const called: number[] = [];
      const acked: number[] = [];
      const save = (tag: number, then?: () => void) => {
        called.push(tag);
        // Indexes follow the order of the calls, whichever order the tags come in.
        store.save(null, [ent(called.length, 1)], () => {
          acked.push(tag);
          then?.();
        });
      };
      await new Promise<void>((resolve) => {
        save(1, () => save(2, resolve));
        save(3);
      });
      await Promise.resolve();
      expect(acked).toEqual(called);
      expect(store.lastIndex()).toBe(3);
    });

    it('appends and reads entries and terms', async () => {
      const { store } = open();
      await persist(store, null, [ent(1, 1), ent(2, 1), ent(3, 2)]);
      expect(store.firstIndex()).toBe(1);
      expect(store.lastIndex()).toBe(3);
      expect([store.term(1), store.term(2), store.term(3)]).toEqual([1, 1, 2]);
      expect(store.entries(1, 4, Infinity)).toEqual([ent(1, 1), ent(2, 1), ent(3, 2)]);
      expect(store.entries(2, 3, Infinity)).toEqual([ent(2, 1)]);
      expect(store.entries(2, 2, Infinity)).toEqual([]);
    });

    it('reads across several saves and keeps them across reopen', async () => {
      const h = open();
      await persist(h.store, null, ents(1, 3, 1));
      await persist(h.store, null, ents(4, 6, 1));
      const before = dump(h.store);
      const reopened = await h.reopen();
      expect(dump(reopened)).toEqual(before);
      expect(reopened.entries(1, 7, Infinity)).toEqual(ents(1, 6, 1));
    });

    it('truncates the suffix from the first new entry on, durably', async () => {
      const h = open();
      await persist(h.store, null, ents(1, 5, 1));
      await persist(h.store, null, [ent(3, 2, 'new3'), ent(4, 2, 'new4')]);
      expect(h.store.lastIndex()).toBe(4);
      expect(h.store.entries(1, 5, Infinity)).toEqual([ent(1, 1), ent(2, 1), ent(3, 2, 'new3'), ent(4, 2, 'new4')]);
      const reopened = await h.reopen();
      expect(reopened.lastIndex()).toBe(4);
      expect(reopened.term(3)).toBe(2);
      expect(reopened.entries(3, 5, Infinity)).toEqual([ent(3, 2, 'new3'), ent(4, 2, 'new4')]);
    });

    it('overwrites from the given index even when terms agree', async () => {
      const { store } = open();
      await persist(store, null, ents(1, 5, 1));
      await persist(store, null, [ent(2, 1, 'again')]);
      expect(store.lastIndex()).toBe(2);
      expect(store.entries(2, 3, Infinity)).toEqual([ent(2, 1, 'again')]);
    });

    it('persists the latest hard state across reopen', async () => {
      const h = open();
      await persist(h.store, hs(1, 2, 0), []);
      await persist(h.store, hs(2, 3, 1), [ent(1, 2)]);
      await persist(h.store, hs(2, 3, 1), []);
      await persist(h.store, null, [ent(2, 2)]);
      expect(h.store.initialState().hardState).toEqual(hs(2, 3, 1));
      const reopened = await h.reopen();
      expect(reopened.initialState().hardState).toEqual(hs(2, 3, 1));
      expect(reopened.lastIndex()).toBe(2);
    });

    it('acknowledges writes in call order', async () => {
      const { store } = open();
      const order: number[] = [];
      const all = [1, 2, 3, 4].map(
        (i) =>
          new Promise<void>((resolve) =>
            store.save(hs(i, 1, 0), [ent(i, i)], () => {
              order.push(i);
              resolve();
            }),
          ),
      );
      await Promise.all(all);
      expect(order).toEqual([1, 2, 3, 4]);
    });

    it('acknowledges an empty save after the writes before it', async () => {
      const { store } = open();
      const order: string[] = [];
      await Promise.all([
        new Promise<void>((r) => store.save(null, [ent(1, 1)], () => (order.push('a'), r()))),
        new Promise<void>((r) => store.save(null, [], () => (order.push('empty'), r()))),
      ]);
      expect(order).toEqual(['a', 'empty']);
    });

    it('keeps entry types and binary data exactly, across reopen', async () => {
      const h = open();
      const es = [
        { index: 1, term: 1, type: EntryType.Empty, data: new Uint8Array(0) },
        { index: 2, term: 1, type: EntryType.Normal, data: Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff) },
        { index: 3, term: 2, type: EntryType.Normal, data: new Uint8Array(0) },
      ];
      await persist(h.store, null, es);
      expect(h.store.entries(1, 4, Infinity)).toEqual(es);
      expect((await h.reopen()).entries(1, 4, Infinity)).toEqual(es);
    });

    it('limits entries() by maxBytes but returns at least one', async () => {
      const { store } = open();
      const es = ents(1, 5, 1);
      await persist(store, null, es);
      const size = entrySize(es[0]!); // all the same size
      expect(store.entries(1, 6, 0)).toEqual(es.slice(0, 1));
      expect(store.entries(1, 6, size)).toEqual(es.slice(0, 1));
      expect(store.entries(1, 6, 2 * size - 1)).toEqual(es.slice(0, 1));
      expect(store.entries(1, 6, 2 * size)).toEqual(es.slice(0, 2));
      expect(store.entries(1, 6, 3 * size + 1)).toEqual(es.slice(0, 3));
      expect(store.entries(2, 4, 100 * size)).toEqual(es.slice(1, 3));
    });

    it('throws UNAVAILABLE beyond the last index', async () => {
      const { store } = open();
      await persist(store, null, ents(1, 3, 1));
      expectCode(() => store.term(4), 'UNAVAILABLE');
      expectCode(() => store.entries(1, 5, Infinity), 'UNAVAILABLE');
      expectCode(() => store.entries(4, 5, Infinity), 'UNAVAILABLE');
      expect(store.entries(1, 4, Infinity)).toHaveLength(3);
    });

    it('compacts on snapshot, keeping the entries after it when they agree, across reopen', async () => {
      const h = open();
      await persist(h.store, hs(2, 1, 8), [...ents(1, 5, 1), ...ents(6, 10, 2)]);
      await persistSnapshot(h.store, snap(7, 2));
      for (const reopen of [false, true]) {
        const store = reopen ? await h.reopen() : h.store;
        expect(store.firstIndex()).toBe(8);
        expect(store.lastIndex()).toBe(10);
        expect(store.term(7)).toBe(2);
        expect(store.term(8)).toBe(2);
        expect(store.entries(8, 11, Infinity)).toEqual(ents(8, 10, 2));
        expect(store.initialState().snapshot).toEqual(snap(7, 2).meta);
        expect(store.initialState().hardState).toEqual(hs(2, 1, 8));
        expect(store.snapshot()).toEqual(stored(snap(7, 2)));
        expectCode(() => store.term(6), 'COMPACTED');
        expectCode(() => store.entries(7, 9, Infinity), 'COMPACTED');
        expectCode(() => store.entries(1, 9, Infinity), 'COMPACTED');
        expectCode(() => store.term(11), 'UNAVAILABLE');
      }
    });

    it('snapshot at the last index leaves an empty log after it', async () => {
      const h = open();
      await persist(h.store, null, ents(1, 4, 1));
      await persistSnapshot(h.store, snap(4, 1));
      for (const reopen of [false, true]) {
        const store = reopen ? await h.reopen() : h.store;
        expect(store.firstIndex()).toBe(5);
        expect(store.lastIndex()).toBe(4);
        expect(store.term(4)).toBe(1);
      }
    });

    it('discards the whole log when the snapshot disagrees with it', async () => {
      const h = open();
      await persist(h.store, null, ents(1, 6, 1));
      await persistSnapshot(h.store, snap(4, 3));
      for (const reopen of [false, true]) {
        const store = reopen ? await h.reopen() : h.store;
        expect(store.firstIndex()).toBe(5);
        expect(store.lastIndex()).toBe(4);
        expect(store.term(4)).toBe(3);
        expectCode(() => store.term(5), 'UNAVAILABLE');
      }
    });

    it('discards the whole log when the snapshot is beyond it (installed from a leader)', async () => {
      const h = open();
      await persist(h.store, null, ents(1, 3, 1));
      await persistSnapshot(h.store, snap(20, 4));
      for (const reopen of [false, true]) {
        const store = reopen ? await h.reopen() : h.store;
        expect(store.firstIndex()).toBe(21);
        expect(store.lastIndex()).toBe(20);
        expect(store.term(20)).toBe(4);
        expect(store.snapshot()?.meta.index).toBe(20);
      }
    });

    it('appends after a snapshot, and a later snapshot replaces the earlier one', async () => {
      const h = open();
      await persistSnapshot(h.store, snap(10, 2));
      await persist(h.store, hs(3, 1, 10), [ent(11, 3), ent(12, 3)]);
      let store = await h.reopen();
      expect(store.entries(11, 13, Infinity)).toEqual([ent(11, 3), ent(12, 3)]);
      expect(store.term(10)).toBe(2);
      await persistSnapshot(store, snap(11, 3, 'second'));
      store = await h.reopen();
      expect(store.snapshot()).toEqual(stored(snap(11, 3, 'second')));
      expect(store.firstIndex()).toBe(12);
      expect(store.entries(12, 13, Infinity)).toEqual([ent(12, 3)]);
    });

    it('refuses writes that would break the log invariants, and keeps its state', async () => {
      const { store } = open();
      await persist(store, hs(3, 1, 0), [ent(1, 1), ent(2, 2)]);
      const before = dump(store);
      const refusals: Promise<void>[] = [
        persist(store, null, [ent(4, 2)]), // gap after 2
        persist(store, null, [ent(3, 1)]), // term below the entry before it
        persist(store, null, [ent(3, 2), ent(5, 2)]), // not contiguous
        persist(store, null, [ent(3, 3), ent(4, 2)]), // term decreases within the batch
        persist(store, hs(2, 1, 0), []), // hard state term goes back
        persist(store, hs(3, 2, 0), []), // second vote in the same term
      ];
      for (const p of refusals) await expect(p).rejects.toMatchObject({ code: 'INVARIANT' });
      expect(dump(store)).toEqual(before);
    });

    it('refuses entries at or below the snapshot index, and an older snapshot', async () => {
      const { store } = open();
      await persist(store, null, ents(1, 6, 1));
      await persistSnapshot(store, snap(4, 1));
      await expect(persist(store, null, [ent(4, 1)])).rejects.toMatchObject({ code: 'INVARIANT' });
      await expect(persistSnapshot(store, snap(3, 1))).rejects.toMatchObject({ code: 'INVARIANT' });
      expect(store.firstIndex()).toBe(5);
      expect(store.lastIndex()).toBe(6);
    });

    // Only a simulated disk can lose power on demand; LMDB's crash safety is the kill -9 test.
    if (!options.powerLoss) return;
    it('keeps every acknowledged write across a power loss', async () => {
      const h = open();
      if (!h.crash) throw new Error('harness lost its crash()');
      await persist(h.store, hs(1, 1, 0), ents(1, 3, 1));
      await persistSnapshot(h.store, snap(2, 1));
      await persist(h.store, hs(2, 2, 3), [ent(4, 2)]);
      const before = dump(h.store);
      expect(dump(h.crash())).toEqual(before);
    });
  });
}
