/** Conformance: exactly-once sessions, their expiry (idle and LRU), and that expiry never lets a command apply twice. */
import { describe, expect, it } from 'vitest';
import type { KvLimits } from '../../src/store/kv-limits.ts';
import { b, cas, emptyEntries, entriesOf, put, rec } from './kv-fixtures.ts';
import type { OpenStateMachine } from './sm-harness.ts';

const small = (over: Partial<KvLimits>): KvLimits => ({ sessionIdleEntries: 1000, maxSessions: 100, eventHistory: 1000, ...over });

export function describeSessionConformance(open: OpenStateMachine): void {
  describe('sessions', () => {
    it('applies a retried session command once and returns the first result', () => {
      const { sm } = open();
      const s = { client: 'c1', seq: 1 };
      const r = sm.apply(entriesOf(1, 1, [put('k', 'v', s), put('k', 'v', s), put('k', 'other', s)]));
      expect(r[1]).toEqual(r[0]);
      expect(r[2]).toEqual(r[0]); // the cached result, whatever the retry carries
      expect(sm.get(b('k'))).toEqual(rec('v', 1, 1, 1));
      expect(sm.events(1, 10)).toHaveLength(1);
    });

    it('caches failed results too: a retried cas does not succeed later', () => {
      const { sm } = open();
      const s = { client: 'c1', seq: 1 };
      const r = sm.apply(entriesOf(1, 1, [cas('k', 'x', 'y', s), put('k', 'x'), cas('k', 'x', 'y', s)]));
      expect(r[0]).toEqual({ ok: false, reason: 'compare_failed', current: null });
      expect(r[2]).toEqual(r[0]);
      expect(sm.get(b('k'))?.value).toEqual(b('x'));
    });

    it('rejects an older session command as stale without applying it', () => {
      const { sm } = open();
      const r = sm.apply(
        entriesOf(1, 1, [
          put('k', 'a', { client: 'c1', seq: 1 }),
          put('k', 'b', { client: 'c1', seq: 2 }),
          put('k', 'old', { client: 'c1', seq: 1 }),
          put('k', 'x', { client: 'c2', seq: 1 }), // other clients are independent
          put('k', 'c', { client: 'c1', seq: 5 }), // gaps are fine
          put('k', 'b', { client: 'c1', seq: 2 }), // now stale too
        ]),
      );
      expect(r[2]).toEqual({ ok: false, reason: 'session_stale' });
      expect(r[3]).toMatchObject({ ok: true, revision: 4 });
      expect(r[4]).toMatchObject({ ok: true, revision: 5 });
      expect(r[5]).toEqual({ ok: false, reason: 'session_stale' });
      expect(sm.get(b('k'))).toEqual(rec('c', 1, 5, 4));
    });

    it('refuses to open a session except with seq 1 and horizon <= since < index', () => {
      const { sm } = open();
      const r = sm.apply(
        entriesOf(1, 1, [
          put('k', 'a', { client: 'c1', seq: 2 }), // an unknown client's first command must be seq 1
          put('k', 'b', { client: 'c2', seq: 1, since: 2 }), // cannot have observed revision 2 yet
          put('k', 'c', { client: 'c3', seq: 1, since: 2 }), // index 3 > 2: fine
        ]),
      );
      expect(r[0]).toEqual({ ok: false, reason: 'session_expired', horizon: 0 });
      expect(r[1]).toEqual({ ok: false, reason: 'session_expired', horizon: 0 });
      expect(r[2]).toMatchObject({ ok: true, revision: 3 });
      expect(sm.get(b('k'))).toEqual(rec('c', 3, 3, 1));
    });

    it('expires a session idle for more than sessionIdleEntries entries, and never applies its commands again', () => {
      const { sm } = open(small({ sessionIdleEntries: 3 }));
      const first = put('k', 'v', { client: 'c1', seq: 1 });
      const keep = { client: 'c2', seq: 1 };
      sm.apply(entriesOf(1, 1, [first, put('x', '1', keep)]));
      // c1 last acted at 1: still alive at 4 (idle 3), expired at 5 (idle 4).
      sm.apply(emptyEntries(3, 1, 1));
      expect(sm.apply(entriesOf(4, 1, [put('k', 'v', { client: 'c1', seq: 1 })]))[0]).toEqual({ ok: true, revision: 1, prev: null });
      // The retry at 4 was activity: c1 now expires only past 7.
      sm.apply(emptyEntries(5, 1, 3));
      const r = sm.apply(
        entriesOf(8, 1, [
          put('k', 'v', { client: 'c1', seq: 1 }), // the same command once more: refused, not re-applied
          put('k', 'w', { client: 'c1', seq: 2 }),
        ]),
      );
      expect(r[0]).toEqual({ ok: false, reason: 'session_expired', horizon: 4 });
      expect(r[1]).toEqual({ ok: false, reason: 'session_expired', horizon: 4 });
      expect(sm.get(b('k'))).toEqual(rec('v', 1, 1, 1));
      // c2 expired too (last active at 2); a fresh session of c2 opens with since >= horizon.
      const again = sm.apply(entriesOf(10, 1, [put('x', '2', { client: 'c2', seq: 1, since: 4 }), put('x', '3', keep)]));
      expect(again[0]).toMatchObject({ ok: true, revision: 10 });
      // A copy of c2's first-session command is older than the live session: refused.
      expect(again[1]).toEqual({ ok: false, reason: 'session_expired', horizon: 4 });
      expect(sm.get(b('x'))).toEqual(rec('2', 2, 10, 2));
    });

    it('expires the least recently used session beyond maxSessions', () => {
      const { sm } = open(small({ maxSessions: 2 }));
      const r = sm.apply(
        entriesOf(1, 1, [
          put('a', '1', { client: 'c1', seq: 1 }),
          put('b', '1', { client: 'c2', seq: 1 }),
          put('a', '2', { client: 'c1', seq: 2 }), // c1 is now the most recent
          put('c', '1', { client: 'c3', seq: 1 }), // a third session: c2 (least recent) goes
          put('b', '2', { client: 'c2', seq: 2 }),
          put('b', '1', { client: 'c2', seq: 1 }), // a copy of c2's first command
          put('a', '3', { client: 'c1', seq: 3 }),
          put('c', '2', { client: 'c3', seq: 2 }),
        ]),
      );
      expect(r[3]).toMatchObject({ ok: true, revision: 4 });
      expect(r[4]).toEqual({ ok: false, reason: 'session_expired', horizon: 2 });
      expect(r[5]).toEqual({ ok: false, reason: 'session_expired', horizon: 2 });
      expect(r[6]).toMatchObject({ ok: true, revision: 7 });
      expect(r[7]).toMatchObject({ ok: true, revision: 8 });
      expect(sm.get(b('b'))).toEqual(rec('1', 2, 2, 1));
    });

    it('lets a retry or a stale copy keep a session alive', () => {
      const { sm } = open(small({ maxSessions: 2 }));
      const r = sm.apply(
        entriesOf(1, 1, [
          put('a', '1', { client: 'c1', seq: 1 }),
          put('b', '1', { client: 'c2', seq: 1 }),
          put('a', '1', { client: 'c1', seq: 1 }), // a retry: c1 is now the most recent
          put('c', '1', { client: 'c3', seq: 1 }), // c2 goes, not c1
          put('a', '2', { client: 'c1', seq: 2 }),
        ]),
      );
      expect(r[4]).toMatchObject({ ok: true, revision: 5 });
    });

    it('a newer session of a client replaces the old one, whose copies are then refused', () => {
      const { sm } = open();
      const r = sm.apply(
        entriesOf(1, 1, [
          put('k', '1', { client: 'c', seq: 1 }),
          put('k', '2', { client: 'c', seq: 2 }),
          put('k', '3', { client: 'c', seq: 1, since: 2 }), // a restarted client: new session
          put('k', '2', { client: 'c', seq: 2 }), // a copy from the old session
          put('k', '4', { client: 'c', seq: 3 }), // a late command of the old session
          put('k', '5', { client: 'c', seq: 2, since: 2 }),
          put('k', '9', { client: 'c', seq: 1, since: 1 }), // older than the live session
        ]),
      );
      expect(r.map((x) => (x?.ok ? 'ok' : x?.reason))).toEqual(['ok', 'ok', 'ok', 'session_expired', 'session_expired', 'ok', 'session_expired']);
      expect(sm.get(b('k'))).toEqual(rec('5', 1, 6, 4));
    });

    it('never applies a command twice, whatever expires in between (idle and LRU)', () => {
      const { sm } = open(small({ sessionIdleEntries: 2, maxSessions: 2 }));
      // Each client sends one increment-like put per seq; copies of every command arrive
      // again later, after all sorts of expiry. Every key's version counts real applications.
      const commands = [];
      for (let round = 0; round < 3; round++) {
        for (const c of ['p', 'q', 'r']) {
          const seq = round + 1;
          commands.push(put(`${c}${seq}`, 'v', { client: c, seq }));
        }
      }
      const history = [...commands, null, null, null, ...commands, ...commands.slice().reverse()];
      const results = sm.apply(entriesOf(1, 1, history));
      for (const r of results) if (r) expect(['ok', 'session_stale', 'session_expired']).toContain(r.ok ? 'ok' : r.reason);
      for (const c of ['p', 'q', 'r']) {
        for (let seq = 1; seq <= 3; seq++) {
          const record = sm.get(b(`${c}${seq}`));
          if (record) expect(record.version, `${c}${seq}`).toBe(1);
        }
      }
    });
  });
}
