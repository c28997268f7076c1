/**
 * The key-value state machine contract, run against every implementation (memory twin now,
 * LMDB later). Only the KvStateMachine interface is used. `reopen`, if given, must close and
 * reopen a durable implementation, which must come back at the same applied index.
 */
import { describe, expect, it } from 'vitest';
import type { KvResult } from '../../src/store/kv-command.ts';
import type { KvStateMachine } from '../../src/store/kv-state-machine.ts';
import { b, cas, del, entriesOf, get, put } from './kv-fixtures.ts';

export interface StateMachineHarness {
  readonly sm: KvStateMachine;
  reopen?(): KvStateMachine;
}

const meta = (index: number, term: number) => ({ index, term, conf: { voters: [1], learners: [] } });

export function describeStateMachineConformance(
  name: string,
  open: () => StateMachineHarness,
  options: { durable: boolean } = { durable: false },
): void {
  describe(`StateMachine conformance: ${name}`, () => {
    it('starts empty at index 0', () => {
      const { sm } = open();
      expect(sm.appliedIndex()).toBe(0);
      expect(sm.appliedTerm()).toBe(0);
      expect(sm.get(b('k'))).toBeNull();
    });

    it('puts and gets, with revisions from the entry index and a version per put', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [put('k', 'v1'), put('other', 'x'), put('k', 'v2')]));
      expect(r[0]).toEqual({ ok: true, revision: 1, prev: null });
      expect(r[2]).toEqual({
        ok: true,
        revision: 3,
        prev: { value: b('v1'), createRevision: 1, modRevision: 1, version: 1 },
      });
      expect(sm.get(b('k'))).toEqual({ value: b('v2'), createRevision: 1, modRevision: 3, version: 2 });
      expect(sm.get(b('other'))).toEqual({ value: b('x'), createRevision: 2, modRevision: 2, version: 1 });
      expect(sm.appliedIndex()).toBe(3);
      expect(sm.appliedTerm()).toBe(1);
    });

    it('reads through the log with get', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [get('k'), put('k', 'v'), get('k')]));
      expect(r[0]).toEqual({ ok: true, revision: 1, value: null });
      expect(r[2]).toEqual({ ok: true, revision: 3, value: { value: b('v'), createRevision: 2, modRevision: 2, version: 1 } });
    });

    it('deletes, and a put after a delete starts a new life of the key', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [put('k', 'a'), put('k', 'b'), del('k'), del('k'), put('k', 'c')]));
      expect(r[2]).toEqual({ ok: true, revision: 3, prev: { value: b('b'), createRevision: 1, modRevision: 2, version: 2 } });
      expect(r[3]).toEqual({ ok: true, revision: 4, prev: null });
      expect(sm.get(b('k'))).toEqual({ value: b('c'), createRevision: 5, modRevision: 5, version: 1 });
    });

    it('compare-and-swaps on the current value', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [put('k', 'a'), cas('k', 'a', 'b'), cas('k', 'a', 'c')]));
      expect(r[1]).toEqual({ ok: true, revision: 2, prev: { value: b('a'), createRevision: 1, modRevision: 1, version: 1 } });
      expect(r[2]).toEqual({
        ok: false,
        reason: 'compare_failed',
        current: { value: b('b'), createRevision: 1, modRevision: 2, version: 2 },
      });
      expect(sm.get(b('k'))?.value).toEqual(b('b'));
    });

    it('compare-and-swaps on absence (expected null)', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [cas('k', null, 'first'), cas('k', null, 'second'), cas('x', 'any', 'v')]));
      expect(r[0]).toEqual({ ok: true, revision: 1, prev: null });
      expect(r[1]).toMatchObject({ ok: false, reason: 'compare_failed', current: { value: b('first') } });
      expect(r[2]).toEqual({ ok: false, reason: 'compare_failed', current: null });
      expect(sm.get(b('x'))).toBeNull();
    });

    it('distinguishes an empty value from an absent key', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [put('k', ''), cas('k', null, 'x'), cas('k', '', 'y')]));
      expect(r[1]).toMatchObject({ ok: false, reason: 'compare_failed' });
      expect(r[2]).toMatchObject({ ok: true });
    });

    it('moves only the applied index on Empty entries', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 2, [null, put('k', 'v'), null]));
      expect(r).toEqual([null, { ok: true, revision: 2, prev: null }, null]);
      expect(sm.appliedIndex()).toBe(3);
      expect(sm.appliedTerm()).toBe(2);
    });

    it('applies a retried session command once and returns the first result', () => {
      const { sm } = open();
      const s = { client: 'c1', seq: 1 };
      const r = sm.apply(entriesOf(1, 1, [put('k', 'v', s), put('k', 'v', s), put('k', 'other', s)]));
      expect(r[1]).toEqual(r[0]);
      expect(r[2]).toEqual(r[0]); // the cached result, whatever the retry carries
      expect(sm.get(b('k'))).toEqual({ value: b('v'), createRevision: 1, modRevision: 1, version: 1 });
    });

    it('caches failed results too: a retried cas does not succeed later', () => {
      const { sm } = open();
      const s = { client: 'c1', seq: 7 };
      const r = sm.apply(entriesOf(1, 1, [cas('k', 'x', 'y', s), put('k', 'x'), cas('k', 'x', 'y', s)]));
      expect(r[0]).toEqual({ ok: false, reason: 'compare_failed', current: null });
      expect(r[2]).toEqual(r[0]);
      expect(sm.get(b('k'))?.value).toEqual(b('x'));
    });

    it('rejects an older session command as stale without applying it', () => {
      const { sm } = open();
      const r = sm.apply(
        entriesOf(1, 1, [
          put('k', 'a', { client: 'c1', seq: 5 }),
          put('k', 'old', { client: 'c1', seq: 4 }),
          put('k', 'b', { client: 'c2', seq: 1 }), // other clients are independent
          put('k', 'c', { client: 'c1', seq: 6 }),
          put('k', 'a', { client: 'c1', seq: 5 }), // now stale too
        ]),
      );
      expect(r[1]).toEqual({ ok: false, reason: 'session_stale' });
      expect(r[2]).toMatchObject({ ok: true, revision: 3 });
      expect(r[3]).toMatchObject({ ok: true, revision: 4 });
      expect(r[4]).toEqual({ ok: false, reason: 'session_stale' });
      expect(sm.get(b('k'))).toEqual({ value: b('c'), createRevision: 1, modRevision: 4, version: 3 });
      expect(sm.appliedIndex()).toBe(5);
    });

    it('asserts apply gets exactly the next indexes: no gap, no replay', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('k', 'v')]));
      expect(() => sm.apply(entriesOf(3, 1, [put('k', 'gap')]))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(() => sm.apply(entriesOf(1, 1, [put('k', 'replay')]))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.appliedIndex()).toBe(1);
      expect(sm.get(b('k'))?.value).toEqual(b('v'));
    });

    it('rejects a batch with a gap inside as a whole', () => {
      const { sm } = open();
      const batch = [...entriesOf(1, 1, [put('a', '1')]), ...entriesOf(3, 1, [put('b', '2')])];
      expect(() => sm.apply(batch)).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.appliedIndex()).toBe(0);
      expect(sm.get(b('a'))).toBeNull();
    });

    it('rejects a batch with a malformed command as a whole', () => {
      const { sm } = open();
      const batch = entriesOf(1, 1, [put('a', '1'), put('b', '2')]);
      const poisoned = [batch[0]!, { ...batch[1]!, data: Uint8Array.of(0xee, 1, 2) }];
      expect(() => sm.apply(poisoned)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(sm.appliedIndex()).toBe(0);
      expect(sm.get(b('a'))).toBeNull();
    });

    it('treats a Normal entry without data as a no-op', () => {
      const { sm } = open();
      const [e] = entriesOf(1, 1, [put('a', '1')]);
      expect(sm.apply([{ ...e!, data: new Uint8Array(0) }])).toEqual([null]);
      expect(sm.appliedIndex()).toBe(1);
    });

    it('round-trips snapshot and restore: same bytes, same reads, same future', () => {
      const history = entriesOf(1, 2, [
        put('b', '1'),
        put('a', '2', { client: 'c1', seq: 1 }),
        null,
        cas('b', '1', '3', { client: 'c2', seq: 9 }),
        del('zz'),
        put('zz', 'last'),
      ]);
      const { sm } = open();
      sm.apply(history);
      const image = sm.snapshot();
      const { sm: other } = open();
      other.restore(meta(6, 2), image);
      expect(other.snapshot()).toEqual(image);
      expect(other.appliedIndex()).toBe(6);
      expect(other.appliedTerm()).toBe(2);
      for (const k of ['a', 'b', 'zz', 'missing']) expect(other.get(b(k))).toEqual(sm.get(b(k)));
      // Sessions survived: a retry after the restore gets the cached result, not a second apply.
      const next = entriesOf(7, 3, [
        cas('b', '1', '3', { client: 'c2', seq: 9 }),
        put('a', 'x', { client: 'c1', seq: 0 }),
        put('a', '9', { client: 'c1', seq: 2 }),
      ]);
      const expected: KvResult[] = sm.apply(next) as KvResult[];
      expect(other.apply(next)).toEqual(expected);
      expect(expected[0]).toMatchObject({ ok: true, revision: 4 });
      expect(expected[1]).toEqual({ ok: false, reason: 'session_stale' });
      expect(other.snapshot()).toEqual(sm.snapshot());
    });

    it('produces identical snapshot bytes for identical histories', () => {
      const history = entriesOf(1, 1, [put('k2', 'v'), put('k1', 'v', { client: 'z', seq: 1 }), put('k3', 'v', { client: 'a', seq: 1 })]);
      const x = open().sm;
      const y = open().sm;
      x.apply(history);
      y.apply(history.slice(0, 1));
      y.apply(history.slice(1));
      expect(x.snapshot()).toEqual(y.snapshot());
    });

    it('replaces all state on restore', () => {
      const source = open().sm;
      source.apply(entriesOf(1, 1, [put('kept', '1')]));
      const image = source.snapshot();
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('dropped', '1'), put('kept', 'old', { client: 'c', seq: 3 }), null]));
      sm.restore(meta(1, 1), image);
      expect(sm.appliedIndex()).toBe(1);
      expect(sm.get(b('dropped'))).toBeNull();
      expect(sm.get(b('kept'))?.value).toEqual(b('1'));
      // The session of the replaced state is gone too: seq 3 applies afresh.
      expect(sm.apply(entriesOf(2, 1, [put('kept', 'new', { client: 'c', seq: 3 })]))[0]).toMatchObject({ ok: true });
    });

    it('continues from the restored index only', () => {
      const source = open().sm;
      source.apply(entriesOf(1, 1, [put('k', 'v'), null]));
      const { sm } = open();
      sm.restore(meta(2, 1), source.snapshot());
      expect(() => sm.apply(entriesOf(1, 1, [put('k', 'x')]))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.apply(entriesOf(3, 1, [put('k', 'x')]))[0]).toMatchObject({ ok: true, revision: 3 });
    });

    it('rejects a snapshot image that does not match its metadata or is corrupt', () => {
      const source = open().sm;
      source.apply(entriesOf(1, 1, [put('k', 'v')]));
      const image = source.snapshot();
      expect(() => open().sm.restore(meta(2, 1), image)).toThrow();
      const corrupt = image.slice();
      corrupt[corrupt.length - 6] = corrupt[corrupt.length - 6]! ^ 0x10;
      expect(() => open().sm.restore(meta(1, 1), corrupt)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    });

    // A volatile implementation is rebuilt from the log instead; only durable ones promise this.
    if (!options.durable) return;
    it('keeps its applied state across reopen (durable implementations)', () => {
      const h = open();
      if (!h.reopen) throw new Error('a durable implementation must provide reopen()');
      h.sm.apply(entriesOf(1, 1, [put('k', 'v', { client: 'c', seq: 1 })]));
      const image = h.sm.snapshot();
      const reopened = h.reopen();
      expect(reopened.appliedIndex()).toBe(1);
      expect(reopened.snapshot()).toEqual(image);
    });
  });
}
