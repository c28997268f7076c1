/** Conformance: deleteRange, cas on revisions and versions, and txn (etcd style). */
import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../../src/util/bytes.ts';
import {
  b,
  casOn,
  cmpNum,
  cmpValue,
  delRange,
  entriesOf,
  opDel,
  opDelRange,
  opGet,
  opPut,
  put,
  rec,
  txn,
} from './kv-fixtures.ts';
import type { OpenStateMachine } from './sm-harness.ts';

const keysOf = (sm: ReturnType<OpenStateMachine>['sm']) =>
  sm.range(new Uint8Array(0), null).records.map((r) => Buffer.from(r.key).toString());

export function describeCommandConformance(open: OpenStateMachine): void {
  describe('commands', () => {
    it('put returns the record it replaced, or null without prev; the record is kept the same way', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('k', 'v1')]));
      const [withPrev] = sm.apply(entriesOf(2, 1, [put('k', 'v2')]));
      expect(withPrev).toEqual({ ok: true, revision: 2, prev: rec('v1', 1, 1, 1) });
      const [quiet] = sm.apply(entriesOf(3, 1, [{ op: 'put', key: b('k'), value: b('v3'), withoutPrev: true }]));
      expect(quiet).toEqual({ ok: true, revision: 3, prev: null });
      expect(sm.get(b('k'))).toEqual(rec('v3', 1, 3, 3));
    });

    it('deleteRange deletes [start, end) and reports how many', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, ['a', 'b', 'ba', 'bz', 'c', 'd'].map((k) => put(k, k))));
      const [r] = sm.apply(entriesOf(7, 1, [delRange('b', 'c')]));
      expect(r).toEqual({ ok: true, revision: 7, deleted: 3 });
      expect(keysOf(sm)).toEqual(['a', 'c', 'd']);
      expect(sm.apply(entriesOf(8, 1, [delRange('x', 'z')]))[0]).toEqual({ ok: true, revision: 8, deleted: 0 });
      expect(sm.apply(entriesOf(9, 1, [delRange('c', null)]))[0]).toEqual({ ok: true, revision: 9, deleted: 2 });
      expect(keysOf(sm)).toEqual(['a']);
    });

    it('deleteRange over a prefix uses prefixEnd, including all-0xff prefixes', () => {
      const { sm } = open();
      const keys = [Uint8Array.of(1), Uint8Array.of(1, 0xff), Uint8Array.of(1, 0xff, 0xff), Uint8Array.of(2), Uint8Array.of(0xff, 0xff), Uint8Array.of(0xff, 0xff, 0)];
      sm.apply(entriesOf(1, 1, keys.map((key) => ({ op: 'put' as const, key, value: b('v') }))));
      sm.apply(entriesOf(7, 1, [{ op: 'deleteRange', start: Uint8Array.of(1, 0xff), end: prefixEnd(Uint8Array.of(1, 0xff)) }]));
      const prefix = Uint8Array.of(0xff, 0xff);
      expect(prefixEnd(prefix)).toBeNull();
      const [r] = sm.apply(entriesOf(8, 1, [{ op: 'deleteRange', start: prefix, end: prefixEnd(prefix) }]));
      expect(r).toMatchObject({ deleted: 2 });
      expect(sm.range(new Uint8Array(0), null).records.map((x) => x.key)).toEqual([Uint8Array.of(1), Uint8Array.of(2)]);
    });

    it('deleteRange removes more keys than one internal page', () => {
      const { sm } = open();
      const n = 2500;
      const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);
      sm.apply(entriesOf(1, 1, keys.map((k) => put(k, 'v'))));
      const [r] = sm.apply(entriesOf(n + 1, 1, [delRange('k', 'l')]));
      expect(r).toEqual({ ok: true, revision: n + 1, deleted: n });
      expect(sm.range(new Uint8Array(0), null).records).toEqual([]);
      const events = sm.events(n + 1, 10_000);
      expect(events).toHaveLength(n);
      expect(events.map((e) => e.sub)).toEqual(keys.map((_, i) => i));
    });

    it('cas compares version, createRevision or modRevision; 0 means absent', () => {
      const { sm } = open();
      const r = sm.apply(
        entriesOf(1, 1, [
          casOn('k', { version: 0 }, 'v1'), // absent: holds
          casOn('k', { version: 0 }, 'no'),
          casOn('k', { version: 1 }, 'v2'),
          casOn('k', { modRevision: 3 }, 'v3'),
          casOn('k', { modRevision: 2 }, 'no'),
          casOn('k', { createRevision: 1 }, 'v4'),
          casOn('other', { createRevision: 0 }, 'o'),
          casOn('other', { modRevision: 0 }, 'no'),
        ]),
      );
      expect(r.map((x) => x?.ok)).toEqual([true, false, true, true, false, true, true, false]);
      expect(r[1]).toEqual({ ok: false, reason: 'compare_failed', current: rec('v1', 1, 1, 1) });
      expect(r[3]).toEqual({ ok: true, revision: 4, prev: rec('v2', 1, 3, 2) });
      expect(sm.get(b('k'))).toEqual(rec('v4', 1, 6, 4));
    });

    it('txn runs success when every compare holds, failure otherwise', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('a', '1'), put('b', '2')]));
      const [ok, failed] = sm.apply(
        entriesOf(3, 1, [
          txn([cmpValue('a', '=', '1'), cmpNum('b', 'version', '=', 1)], [opPut('a', 'x'), opGet('b')], [opPut('a', 'never')]),
          txn([cmpValue('a', '=', '1'), cmpNum('b', 'version', '=', 1)], [opPut('a', 'never')], [opGet('a'), opDel('b')]),
        ]),
      );
      expect(ok).toEqual({
        ok: true,
        revision: 3,
        succeeded: true,
        results: [
          { op: 'put', prev: rec('1', 1, 1, 1) },
          { op: 'get', value: rec('2', 2, 2, 1) },
        ],
      });
      expect(failed).toEqual({
        ok: true,
        revision: 4,
        succeeded: false,
        results: [
          { op: 'get', value: rec('x', 1, 3, 2) },
          { op: 'delete', prev: rec('2', 2, 2, 1) },
        ],
      });
      expect(sm.get(b('b'))).toBeNull();
    });

    it('txn ops run in order, see earlier ops, and all carry the entry index as revision', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('r1', '.'), put('r2', '.')]));
      const [r] = sm.apply(
        entriesOf(3, 1, [txn([], [opPut('k', 'a'), opPut('k', 'b'), opGet('k'), opDelRange('r', 's'), opDel('k'), opGet('k'), opPut('k', 'c')])]),
      );
      expect(r).toEqual({
        ok: true,
        revision: 3,
        succeeded: true,
        results: [
          { op: 'put', prev: null },
          { op: 'put', prev: rec('a', 3, 3, 1) },
          { op: 'get', value: rec('b', 3, 3, 2) },
          { op: 'deleteRange', deleted: 2 },
          { op: 'delete', prev: rec('b', 3, 3, 2) },
          { op: 'get', value: null },
          { op: 'put', prev: null },
        ],
      });
      expect(sm.get(b('k'))).toEqual(rec('c', 3, 3, 1));
      expect(sm.events(3, 100).map((e) => [e.revision, e.sub, e.type, Buffer.from(e.key).toString()])).toEqual([
        [3, 0, 'put', 'k'],
        [3, 1, 'put', 'k'],
        [3, 2, 'delete', 'r1'],
        [3, 3, 'delete', 'r2'],
        [3, 4, 'delete', 'k'],
        [3, 5, 'put', 'k'],
      ]);
    });

    it('txn compares evaluate against the state before any op', () => {
      const { sm } = open();
      const [r] = sm.apply(entriesOf(1, 1, [txn([cmpNum('k', 'version', '=', 0), cmpValue('k', '=', null)], [opPut('k', 'v')])]));
      expect(r).toMatchObject({ succeeded: true });
    });

    it('txn compare operators on values (absent orders first) and numbers', () => {
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('k', 'm'), put('k', 'm'), put('e', '')]));
      const cases: [ReturnType<typeof cmpValue>, boolean][] = [
        [cmpValue('k', '=', 'm'), true],
        [cmpValue('k', '!=', 'm'), false],
        [cmpValue('k', '<', 'n'), true],
        [cmpValue('k', '>', 'l'), true],
        [cmpValue('k', '>', 'mm'), false],
        [cmpValue('k', '>', null), true],
        [cmpValue('e', '>', null), true], // the empty value is present
        [cmpValue('e', '=', ''), true],
        [cmpValue('none', '=', null), true],
        [cmpValue('none', '<', ''), true],
        [cmpValue('none', '!=', 'x'), true],
        [cmpNum('k', 'version', '=', 2), true],
        [cmpNum('k', 'version', '>', 1), true],
        [cmpNum('k', 'createRevision', '=', 1), true],
        [cmpNum('k', 'modRevision', '<', 2), false],
        [cmpNum('k', 'modRevision', '!=', 2), false],
        [cmpNum('none', 'modRevision', '=', 0), true],
        [cmpNum('none', 'createRevision', '>', 0), false],
      ];
      const results = sm.apply(entriesOf(4, 1, cases.map(([c]) => txn([c], []))));
      expect(results.map((r) => (r && r.ok ? r.succeeded : 'error'))).toEqual(cases.map(([, want]) => want));
    });

    it('txn without a matching branch op changes nothing but still takes its revision', () => {
      const { sm } = open();
      const [r] = sm.apply(entriesOf(1, 1, [txn([cmpValue('k', '=', 'x')], [opPut('k', 'y')])]));
      expect(r).toEqual({ ok: true, revision: 1, succeeded: false, results: [] });
      expect(sm.appliedIndex()).toBe(1);
      expect(sm.events(1, 10)).toEqual([]);
    });
  });
}
