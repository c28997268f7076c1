/** Conformance: reads outside the log (range with pagination) and watch events (order, gaps, window). */
import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../../src/util/bytes.ts';
import { b, cas, del, delRange, emptyEntries, entriesOf, get, opDel, opPut, put, rec, txn } from './kv-fixtures.ts';
import { expectCode, keptEvents, meta, storedEventRevisions, type OpenStateMachine } from './sm-harness.ts';

const str = (k: Uint8Array) => Buffer.from(k).toString();

export function describeReadConformance(open: OpenStateMachine): void {
  describe('range reads', () => {
    it('returns records in byte order, not insertion or UTF-16 order', () => {
      const { sm } = open();
      const keys = [Uint8Array.of(0xff), Uint8Array.of(0x01, 0x00), Uint8Array.of(0x01), b('é'), b('z')];
      sm.apply(entriesOf(1, 1, keys.map((key) => ({ op: 'put' as const, key, value: b('v') }))));
      const page = sm.range(new Uint8Array(0), null);
      expect(page.records.map((r) => r.key)).toEqual([Uint8Array.of(0x01), Uint8Array.of(0x01, 0x00), b('z'), b('é'), Uint8Array.of(0xff)]);
      expect(page.records[0]!.record).toEqual(rec('v', 3, 3, 1));
      expect(page).toMatchObject({ more: false, after: null });
    });

    it('honours [start, end) and pages with limit / after without loss or repeats', () => {
      const { sm } = open();
      const keys = Array.from({ length: 23 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      sm.apply(entriesOf(1, 1, [put('a', 'x'), ...keys.map((k) => put(k, k)), put('l', 'x')]));
      const seen: string[] = [];
      let after: Uint8Array | undefined;
      let pages = 0;
      for (;;) {
        const page = sm.range(b('k'), b('l'), { limit: 5, ...(after ? { after } : {}) });
        pages++;
        seen.push(...page.records.map((r) => str(r.key)));
        if (!page.more) {
          expect(page.after).toBeNull();
          break;
        }
        expect(page.records).toHaveLength(5);
        after = page.after!;
        expect(str(after)).toBe(seen[seen.length - 1]);
      }
      expect(seen).toEqual(keys);
      expect(pages).toBe(5);
      // Exactly a limit's worth left: the last full page says there is no more.
      expect(sm.range(b('k20'), b('l'), { limit: 3 })).toMatchObject({ more: false });
      expect(sm.range(b('k20'), b('l'), { limit: 2 })).toMatchObject({ more: true });
    });

    it('serves prefix ranges through prefixEnd', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, ['m/a/1', 'm/a/2', 'm/b/1', 'm/a', 'n'].map((k) => put(k, 'v'))));
      const prefix = b('m/a/');
      expect(sm.range(prefix, prefixEnd(prefix)).records.map((r) => str(r.key))).toEqual(['m/a/1', 'm/a/2']);
    });

    it('takes `after` outside the range, an end before start, and a missing `after` key', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, ['a', 'b', 'c', 'd'].map((k) => put(k, 'v'))));
      expect(sm.range(b('b'), null, { after: b('a') }).records.map((r) => str(r.key))).toEqual(['b', 'c', 'd']);
      expect(sm.range(b('a'), null, { after: b('bb') }).records.map((r) => str(r.key))).toEqual(['c', 'd']);
      expect(sm.range(b('a'), b('c'), { after: b('c') }).records).toEqual([]);
      expect(sm.range(b('c'), b('a')).records).toEqual([]);
    });

    it('rejects bad limits and over-long bounds', () => {
      const { sm } = open();
      for (const limit of [0, -1, 1.5, 10_001]) expectCode(() => sm.range(b('a'), null, { limit }), 'INVALID_ARGUMENT');
      expectCode(() => sm.range(new Uint8Array(1979), null), 'KEY_TOO_LONG');
    });

    it('pages past a key of the maximum length', () => {
      const { sm } = open();
      const long = new Uint8Array(1978).fill(0x61);
      sm.apply(entriesOf(1, 1, [{ op: 'put', key: long, value: b('1') }, put('b', '2')]));
      const first = sm.range(new Uint8Array(0), null, { limit: 1 });
      expect(first.records[0]!.key).toEqual(long);
      expect(sm.range(new Uint8Array(0), null, { limit: 1, after: first.after! }).records.map((r) => str(r.key))).toEqual(['b']);
    });
  });

  describe('watch events', () => {
    it('records every mutation in revision order, op order within a revision, and nothing else', () => {
      const { sm } = open();
      sm.apply(
        entriesOf(1, 1, [
          put('a', '1'), // 1
          get('a'), // 2: no event
          cas('a', 'nope', 'x'), // 3: failed, no event
          del('missing'), // 4: no-op, no event
          null, // 5
          txn([], [opPut('b', '2'), opDel('a'), opPut('a', '3')]), // 6: three events
          delRange('a', 'c'), // 7: two events
        ]),
      );
      const events = sm.events(1, 100);
      expect(events.map((e) => [e.revision, e.sub, e.type, str(e.key)])).toEqual([
        [1, 0, 'put', 'a'],
        [6, 0, 'put', 'b'],
        [6, 1, 'delete', 'a'],
        [6, 2, 'put', 'a'],
        [7, 0, 'delete', 'a'],
        [7, 1, 'delete', 'b'],
      ]);
      expect(events[0]).toEqual({ revision: 1, sub: 0, type: 'put', key: b('a'), value: b('1'), record: rec('1', 1, 1, 1) });
      expect(events[2]).toEqual({ revision: 6, sub: 1, type: 'delete', key: b('a'), record: rec('1', 1, 1, 1) });
      expect(events[4]).toEqual({ revision: 7, sub: 0, type: 'delete', key: b('a'), record: rec('3', 6, 6, 1) });
    });

    it('pages by (revision, sub) without loss or repeats', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('a', '1'), txn([], [opPut('b', '1'), opPut('c', '1'), opPut('d', '1')]), put('e', '1')]));
      const all = sm.events(1, 100);
      const paged = [];
      let from = 1;
      let sub = 0;
      for (;;) {
        const page = sm.events(from, 2, sub);
        if (page.length === 0) break;
        paged.push(...page);
        const last = page[page.length - 1]!;
        from = last.revision;
        sub = last.sub + 1;
      }
      expect(paged).toEqual(all);
      expect(sm.events(2, 100, 2).map((e) => str(e.key))).toEqual(['d', 'e']);
      expect(sm.events(4, 100)).toEqual([]);
    });

    it('keeps a bounded history, trims whole revisions, and throws COMPACTED past it', () => {
      const { sm } = open({ sessionIdleEntries: 1000, maxSessions: 10, eventHistory: 4 });
      sm.apply(entriesOf(1, 1, [put('a', '1'), put('b', '1'), txn([], [opPut('c', '1'), opPut('d', '1')]), put('e', '1')]));
      // 5 events > 4: revision 1 (one event) goes.
      expect(sm.events(2, 100).map((e) => str(e.key))).toEqual(['b', 'c', 'd', 'e']);
      expectCode(() => sm.events(1, 100), 'COMPACTED');
      sm.apply(entriesOf(5, 1, [put('f', '1')]));
      // 5 again: revision 2 goes (one event), leaving 4.
      expectCode(() => sm.events(2, 100), 'COMPACTED');
      sm.apply(entriesOf(6, 1, [put('g', '1')]));
      // Revision 3 holds two events: both go, never half a revision.
      expectCode(() => sm.events(3, 100), 'COMPACTED');
      expect(sm.events(4, 100).map((e) => e.revision)).toEqual([4, 5, 6]);
      expect(storedEventRevisions(sm)).toEqual([4, 5, 6]);
      // Revisions without events past the floor are fine to ask for.
      sm.apply(emptyEntries(7, 1, 3));
      expect(sm.events(4, 100)).toHaveLength(3);
      expect(sm.events(8, 100)).toEqual([]);
    });

    it('trims a single revision larger than the whole history', () => {
      const { sm } = open({ sessionIdleEntries: 1000, maxSessions: 10, eventHistory: 2 });
      sm.apply(entriesOf(1, 1, [put('a', '1'), put('b', '1'), put('c', '1'), delRange('a', null)]));
      expectCode(() => sm.events(4, 10), 'COMPACTED');
      expect(sm.events(5, 10)).toEqual([]);
      expect(storedEventRevisions(sm)).toEqual([]);
      // Its state, with no event kept, restores, and goes on from there.
      const copy = open({ sessionIdleEntries: 1000, maxSessions: 10, eventHistory: 2 }).sm;
      copy.restore(meta(4, 1), sm.snapshot());
      for (const s of [sm, copy]) s.apply(entriesOf(5, 1, [put('d', '1')]));
      expect(copy.snapshot()).toEqual(sm.snapshot());
      expect(copy.events(5, 10).map((e) => str(e.key))).toEqual(['d']);
    });

    it('trims at the end of a batch exactly what trimming after each entry leaves', () => {
      const limits = { sessionIdleEntries: 1000, maxSessions: 10, eventHistory: 3 };
      const history = entriesOf(1, 1, [
        txn([], [opPut('a', '1'), opPut('b', '1')]),
        put('c', '1'),
        txn([], [opPut('d', '1'), opPut('e', '1'), opPut('f', '1')]),
        put('g', '1'),
        delRange('a', 'c'),
        put('h', '1'),
      ]);
      const whole = open(limits).sm;
      whole.apply(history);
      const single = open(limits).sm;
      const kept: number[][] = [];
      for (const e of history) {
        single.apply([e]);
        kept.push(storedEventRevisions(single));
      }
      // Entry 3 pushes out revisions 1 and 2, entry 4 all three events of revision 3: never part of one.
      expect(kept).toEqual([[1, 1], [1, 1, 2], [3, 3, 3], [4], [4, 5, 5], [5, 5, 6]]);
      expect(storedEventRevisions(whole)).toEqual([5, 5, 6]);
      expect(whole.snapshot()).toEqual(single.snapshot());
    });

    it('trims a restored history it did not write (read back) exactly as the writer trims its own', () => {
      const limits = { sessionIdleEntries: 1000, maxSessions: 10, eventHistory: 4 };
      const writer = open(limits).sm;
      writer.apply(entriesOf(1, 1, [put('a', '1'), txn([], [opPut('b', '1'), opPut('c', '1')]), put('d', '1'), put('e', '1')]));
      expect(storedEventRevisions(writer)).toEqual([2, 2, 3, 4]);
      // The restored copy knows none of these events' keys: its first trims read them back.
      const restored = open(limits).sm;
      restored.restore(meta(4, 1), writer.snapshot());
      const later = entriesOf(5, 1, [put('f', '1'), txn([], [opPut('g', '1'), opPut('h', '1'), opPut('i', '1')]), put('j', '1'), put('k', '1'), put('l', '1')]);
      const kept: number[][] = [];
      for (const e of later) {
        writer.apply([e]);
        restored.apply([e]);
        kept.push(storedEventRevisions(restored));
        expect(storedEventRevisions(writer)).toEqual(kept[kept.length - 1]);
      }
      // The first two trims read the old keys back; from the third on, the queue knows them all.
      expect(kept).toEqual([[3, 4, 5], [5, 6, 6, 6], [6, 6, 6, 7], [7, 8], [7, 8, 9]]);
      expect(restored.snapshot()).toEqual(writer.snapshot());
      expectCode(() => restored.events(6, 10), 'COMPACTED');
      expect(restored.events(7, 10).map((e) => str(e.key))).toEqual(['j', 'k', 'l']);
    });

    it('packs events into blocks that end where the events say: any batching and any restore leave the same rows', () => {
      // Values of 1..700 bytes: several events a block, some a block of two, revisions across blocks.
      const limits = { sessionIdleEntries: 1000, maxSessions: 10, eventHistory: 9 };
      const v = (i: number) => 'x'.repeat((i * 373) % 700 || 1);
      const cmds = Array.from({ length: 60 }, (_, i) => {
        if (i % 13 === 5) return txn([], [opPut(`t${i}a`, v(i)), opPut(`t${i}b`, v(i + 1)), opPut(`t${i}c`, v(i + 2))]);
        if (i % 17 === 9) return delRange('k', 'l');
        return put(`k${i % 11}`, v(i));
      });
      const all = entriesOf(1, 1, cmds);
      const single = open(limits).sm;
      const events: string[][] = [];
      for (const e of all) {
        single.apply([e]);
        events.push(keptEvents(single).events.map((x) => `${(x as { revision: number }).revision}.${(x as { sub: number }).sub}`));
      }
      const whole = open(limits).sm;
      whole.apply(all);
      const chunked = open(limits).sm;
      for (let i = 0; i < all.length; i += 7) chunked.apply(all.slice(i, i + 7));
      // A copy restored halfway rebuilds its index from the rows it got.
      const restored = open(limits).sm;
      const half = open(limits).sm;
      half.apply(all.slice(0, 31));
      restored.restore(meta(31, 1), half.snapshot());
      for (let i = 31; i < all.length; i += 5) restored.apply(all.slice(i, i + 5));
      for (const sm of [whole, chunked, restored]) {
        expect(sm.snapshot()).toEqual(single.snapshot());
        expect(storedEventRevisions(sm)).toEqual(storedEventRevisions(single));
      }
      // At most 9 events kept at every step, whole revisions only, and read back from any position.
      expect(events.every((e) => e.length <= 9)).toBe(true);
      const kept = keptEvents(whole).events as { revision: number; sub: number }[];
      expect(kept.map((e) => `${e.revision}.${e.sub}`)).toEqual(events[events.length - 1]);
      for (let i = 0; i < kept.length; i++) {
        const at = kept[i]!;
        expect(whole.events(at.revision, 100, at.sub)).toEqual(kept.slice(i));
        expect(whole.events(at.revision, 2, at.sub)).toEqual(kept.slice(i, i + 2));
      }
    });

    it('rejects bad arguments', () => {
      const { sm } = open();
      expectCode(() => sm.events(0, 10), 'INVALID_ARGUMENT');
      expectCode(() => sm.events(1, 0), 'INVALID_ARGUMENT');
      expectCode(() => sm.events(1, 10, -1), 'INVALID_ARGUMENT');
      expectCode(() => sm.events(1, 10_001), 'INVALID_ARGUMENT');
    });
  });
}
