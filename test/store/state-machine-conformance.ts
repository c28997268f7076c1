/**
 * The key-value state machine contract, run against every implementation (the memory twin and
 * LMDB) so they cannot drift. Only the KvStateMachine interface is used. This file holds the
 * basics and registers the topic suites (commands, reads, sessions, snapshots); `durable`
 * implementations must also keep their state across reopen.
 */
import { describe, expect, it } from 'vitest';
import type { KvResult } from '../../src/store/kv-command.ts';
import { b, cas, del, entriesOf, get, put, rec } from './kv-fixtures.ts';
import { describeCommandConformance } from './sm-commands-conformance.ts';
import { describeReadConformance } from './sm-reads-conformance.ts';
import { describeSessionConformance } from './sm-sessions-conformance.ts';
import { describeModelConformance } from './sm-models-conformance.ts';
import { describeSnapshotConformance } from './sm-snapshots-conformance.ts';
import { keptEvents, meta, observe, type OpenStateMachine } from './sm-harness.ts';

export type { StateMachineHarness } from './sm-harness.ts';

export function describeStateMachineConformance(name: string, open: OpenStateMachine, options: { durable: boolean } = { durable: false }): void {
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
      expect(r[2]).toEqual({ ok: true, revision: 3, prev: rec('v1', 1, 1, 1) });
      expect(sm.get(b('k'))).toEqual(rec('v2', 1, 3, 2));
      expect(sm.get(b('other'))).toEqual(rec('x', 2, 2, 1));
      expect(sm.appliedIndex()).toBe(3);
      expect(sm.appliedTerm()).toBe(1);
    });

    it('reads through the log with get', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [get('k'), put('k', 'v'), get('k')]));
      expect(r[0]).toEqual({ ok: true, revision: 1, value: null });
      expect(r[2]).toEqual({ ok: true, revision: 3, value: rec('v', 2, 2, 1) });
    });

    it('deletes, and a put after a delete starts a new life of the key', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [put('k', 'a'), put('k', 'b'), del('k'), del('k'), put('k', 'c')]));
      expect(r[2]).toEqual({ ok: true, revision: 3, prev: rec('b', 1, 2, 2) });
      expect(r[3]).toEqual({ ok: true, revision: 4, prev: null });
      expect(sm.get(b('k'))).toEqual(rec('c', 5, 5, 1));
    });

    it('compare-and-swaps on the current value', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [put('k', 'a'), cas('k', 'a', 'b'), cas('k', 'a', 'c')]));
      expect(r[1]).toEqual({ ok: true, revision: 2, prev: rec('a', 1, 1, 1) });
      expect(r[2]).toEqual({ ok: false, reason: 'compare_failed', current: rec('b', 1, 2, 2) });
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

    it('treats a Normal entry without data as a no-op', () => {
      const { sm } = open();
      const [e] = entriesOf(1, 1, [put('a', '1')]);
      expect(sm.apply([{ ...e!, data: new Uint8Array(0) }])).toEqual([null]);
      expect(sm.appliedIndex()).toBe(1);
    });

    it('asserts apply gets exactly the next indexes: no gap, no replay', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('k', 'v')]));
      expect(() => sm.apply(entriesOf(3, 1, [put('k', 'gap')]))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(() => sm.apply(entriesOf(1, 1, [put('k', 'replay')]))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.appliedIndex()).toBe(1);
      expect(sm.get(b('k'))?.value).toEqual(b('v'));
    });

    it('rejects a batch with a gap inside as a whole: data, events and index', () => {
      const { sm } = open();
      const batch = [...entriesOf(1, 1, [put('a', '1')]), ...entriesOf(3, 1, [put('b', '2')])];
      expect(() => sm.apply(batch)).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.appliedIndex()).toBe(0);
      expect(sm.get(b('a'))).toBeNull();
      expect(sm.events(1, 10)).toEqual([]);
    });

    it('rejects a batch with a malformed command as a whole, and applies it correctly afterwards', () => {
      const { sm } = open();
      const batch = entriesOf(1, 1, [put('a', '1', { client: 'c', seq: 1 }), put('b', '2')]);
      const poisoned = [batch[0]!, { ...batch[1]!, data: Uint8Array.of(0xee, 1, 2) }];
      expect(() => sm.apply(poisoned)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(sm.appliedIndex()).toBe(0);
      expect(sm.get(b('a'))).toBeNull();
      // Nothing of the rejected batch lingers: not its session, not its event numbering.
      const r = sm.apply(batch);
      expect(r[0]).toEqual({ ok: true, revision: 1, prev: null });
      const fresh = open().sm;
      fresh.apply(batch);
      expect(observe(sm)).toEqual(observe(fresh));
      expect(sm.snapshot()).toEqual(fresh.snapshot());
    });

    it('produces the same state whatever the batching', () => {
      const history = entriesOf(1, 1, [put('a', '1', { client: 'c', seq: 1 }), null, del('a'), put('b', '2', { client: 'c', seq: 2 })]);
      const whole = open().sm;
      whole.apply(history);
      const oneByOne = open().sm;
      for (const e of history) oneByOne.apply([e]);
      expect(observe(oneByOne)).toEqual(observe(whole));
      expect(keptEvents(oneByOne)).toEqual(keptEvents(whole));
      expect(oneByOne.snapshot()).toEqual(whole.snapshot());
    });

    it('round-trips snapshot and restore: same bytes, same reads, same future', () => {
      const history = entriesOf(1, 2, [
        put('b', '1'),
        put('a', '2', { client: 'c1', seq: 1 }),
        null,
        cas('b', '1', '3', { client: 'c2', seq: 1 }),
        del('zz'),
        put('zz', 'last', { client: 'c1', seq: 2 }),
      ]);
      const { sm } = open();
      sm.apply(history);
      const image = sm.snapshot();
      const { sm: other } = open();
      other.restore(meta(6, 2), image);
      expect(other.snapshot()).toEqual(image);
      expect(other.appliedIndex()).toBe(6);
      expect(other.appliedTerm()).toBe(2);
      expect(observe(other)).toEqual(observe(sm));
      // Sessions survived: a retry after the restore gets the cached result, not a second apply.
      const next = entriesOf(7, 3, [
        cas('b', '1', '3', { client: 'c2', seq: 1 }),
        put('a', 'x', { client: 'c1', seq: 1 }),
        put('a', '9', { client: 'c1', seq: 3 }),
      ]);
      const expected = sm.apply(next) as KvResult[];
      expect(other.apply(next)).toEqual(expected);
      expect(expected[0]).toMatchObject({ ok: true, revision: 4 });
      expect(expected[1]).toEqual({ ok: false, reason: 'session_stale' });
      expect(expected[2]).toMatchObject({ ok: true, revision: 9 });
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
      sm.apply(entriesOf(1, 1, [put('dropped', '1'), put('kept', 'old', { client: 'c', seq: 1 }), null]));
      sm.restore(meta(1, 1), image);
      expect(sm.appliedIndex()).toBe(1);
      expect(sm.get(b('dropped'))).toBeNull();
      expect(sm.get(b('kept'))?.value).toEqual(b('1'));
      expect(sm.events(1, 10)).toEqual([{ revision: 1, sub: 0, type: 'put', key: b('kept'), value: b('1'), record: rec('1', 1, 1, 1) }]);
      // The session of the replaced state is gone too: seq 1 opens it afresh.
      expect(sm.apply(entriesOf(2, 1, [put('kept', 'new', { client: 'c', seq: 1 })]))[0]).toMatchObject({ ok: true });
    });

    it('continues from the restored index only', () => {
      const source = open().sm;
      source.apply(entriesOf(1, 1, [put('k', 'v'), null]));
      const { sm } = open();
      sm.restore(meta(2, 1), source.snapshot());
      expect(() => sm.apply(entriesOf(1, 1, [put('k', 'x')]))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.apply(entriesOf(3, 1, [put('k', 'x')]))[0]).toMatchObject({ ok: true, revision: 3 });
    });

    it('rejects a snapshot image that does not match its metadata or is corrupt, keeping its state', () => {
      const source = open().sm;
      source.apply(entriesOf(1, 1, [put('k', 'v')]));
      const image = source.snapshot();
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('mine', 'v')]));
      expect(() => sm.restore(meta(2, 1), image)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      for (let at = 0; at < image.length; at++) {
        const corrupt = image.slice();
        corrupt[at] = corrupt[at]! ^ 0x10;
        expect(() => sm.restore(meta(1, 1), corrupt)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
      }
      expect(() => sm.restore(meta(1, 1), image.subarray(0, image.length - 1))).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
      expect(() => sm.restore(meta(1, 1), Uint8Array.of(...image, 0))).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
      expect(sm.get(b('mine'))?.value).toEqual(b('v'));
      expect(sm.get(b('k'))).toBeNull();
    });

    it('throws CLOSED after close', async () => {
      const { sm } = open();
      await sm.close();
      expect(() => sm.appliedIndex()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    });

    describeCommandConformance(open);
    describeReadConformance(open);
    describeSessionConformance(open);
    describeSnapshotConformance(open);
    describeModelConformance(open);

    // A volatile implementation is rebuilt from the log instead; only durable ones promise this.
    if (!options.durable) return;
    it('keeps its applied state, events and sessions across reopen (durable implementations)', async () => {
      const h = open();
      if (!h.reopen) throw new Error('a durable implementation must provide reopen()');
      const s = { client: 'c', seq: 1 };
      const first = h.sm.apply(entriesOf(1, 1, [put('k', 'v', s), delRangeAll(), put('k2', 'w')]));
      const image = h.sm.snapshot();
      const seen = observe(h.sm);
      const reopened = await h.reopen();
      expect(reopened.appliedIndex()).toBe(3);
      expect(reopened.snapshot()).toEqual(image);
      expect(observe(reopened)).toEqual(seen);
      expect(reopened.apply(entriesOf(4, 1, [put('k', 'again', s)]))[0]).toEqual(first[0]);
    });
  });
}

function delRangeAll() {
  return { op: 'deleteRange' as const, start: Uint8Array.of(0), end: null };
}
