/**
 * The session table (with its lazy LRU index) against a direct model of the rules in
 * kv-sessions.ts: expire every session idle for more than sessionIdleEntries before each entry,
 * evict the least recently used one when a new client would exceed maxSessions, and answer
 * duplicates, stale and expired commands. Clients behave like real ones (next command, retry,
 * stale copy, reopen) with small limits, so rows are marked stale, moved and evicted all the time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KvCommand } from '../../src/store/kv-command.ts';
import type { KvLimits } from '../../src/store/kv-limits.ts';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import type { KvResult } from '../../src/store/kv-result.ts';
import { utf8 } from '../../src/util/bytes.ts';
import { entriesOf } from './kv-fixtures.ts';

interface ModelSession {
  since: number;
  seq: number;
  lastIndex: number;
  /** The revision the command that ran last applied at. */
  appliedAt: number;
}

type Outcome = { kind: 'applied'; revision: number } | { kind: 'stale' } | { kind: 'expired'; horizon: number } | { kind: 'empty' };

class SessionModel {
  private readonly sessions = new Map<string, ModelSession>();
  private horizon = 0;

  constructor(private readonly limits: KvLimits) {}

  step(index: number, cmd: { client: string; seq: number; since: number } | null): Outcome {
    for (const [client, s] of [...this.sessions]) if (s.lastIndex + this.limits.sessionIdleEntries < index) this.drop(client, s);
    if (cmd === null) return { kind: 'empty' };
    const current = this.sessions.get(cmd.client);
    if (current !== undefined && current.since === cmd.since) {
      if (cmd.seq > current.seq) return this.run(cmd, index);
      current.lastIndex = index;
      return cmd.seq === current.seq ? { kind: 'applied', revision: current.appliedAt } : { kind: 'stale' };
    }
    const expired: Outcome = { kind: 'expired', horizon: this.horizon };
    if (current !== undefined && cmd.since < current.since) return expired;
    if (cmd.seq !== 1 || cmd.since < this.horizon || cmd.since >= index) return expired;
    if (current === undefined && this.sessions.size >= this.limits.maxSessions) {
      const [client, lru] = [...this.sessions].reduce((a, b) => (b[1].lastIndex < a[1].lastIndex ? b : a));
      this.drop(client, lru);
    }
    return this.run(cmd, index);
  }

  private run(cmd: { client: string; seq: number; since: number }, index: number): Outcome {
    this.sessions.set(cmd.client, { since: cmd.since, seq: cmd.seq, lastIndex: index, appliedAt: index });
    return { kind: 'applied', revision: index };
  }

  private drop(client: string, s: ModelSession): void {
    this.sessions.delete(client);
    this.horizon = Math.max(this.horizon, s.lastIndex);
  }
}

function outcomeOf(r: KvResult | null): Outcome {
  if (r === null) return { kind: 'empty' };
  if (r.ok) return { kind: 'applied', revision: r.revision };
  if (r.reason === 'session_stale') return { kind: 'stale' };
  if (r.reason === 'session_expired') return { kind: 'expired', horizon: r.horizon! };
  throw new Error(`unexpected result ${JSON.stringify(r)}`);
}

type Action = { client: number; act: 'next' | 'retry' | 'stale' | 'reopen' } | { act: 'empty' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ client: fc.nat(4), act: fc.constant('next' as const) }) },
  { weight: 2, arbitrary: fc.record({ client: fc.nat(4), act: fc.constantFrom('retry' as const, 'stale' as const, 'reopen' as const) }) },
  { weight: 2, arbitrary: fc.constant({ act: 'empty' as const }) },
);

describe('sessions against the model', () => {
  it('give the same outcome for every command, in batches of any size', () => {
    fc.assert(
      fc.property(
        fc.record({ sessionIdleEntries: fc.integer({ min: 1, max: 8 }), maxSessions: fc.integer({ min: 1, max: 4 }), eventHistory: fc.constant(50) }),
        fc.array(action, { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1, max: 7 }),
        (limits, actions, batch) => {
          const sm = new MemoryKvStateMachine(limits);
          const model = new SessionModel(limits);
          // What each client thinks its session is: the since it opened with and its last seq.
          const clients = Array.from({ length: 5 }, () => ({ since: 0, seq: 0 }));
          const commands: (KvCommand | null)[] = [];
          const expected: Outcome[] = [];
          actions.forEach((a, i) => {
            const index = i + 1;
            if (a.act === 'empty') {
              commands.push(null);
              expected.push(model.step(index, null));
              return;
            }
            const c = clients[a.client]!;
            if (a.act === 'reopen') {
              c.since = index - 1;
              c.seq = 1;
            } else if (a.act === 'next') c.seq++;
            const seq = a.act === 'stale' ? Math.max(1, c.seq - 1) : Math.max(1, c.seq);
            c.seq = Math.max(c.seq, seq);
            const session = { client: `c${a.client}`, seq, since: c.since };
            commands.push({ op: 'put', key: utf8(`k${a.client}`), value: utf8(String(index)), session });
            expected.push(model.step(index, session));
          });
          const got: Outcome[] = [];
          for (let at = 0; at < commands.length; at += batch) {
            const results = sm.apply(entriesOf(at + 1, 1, commands.slice(at, at + batch)));
            got.push(...results.map(outcomeOf));
          }
          expect(got).toEqual(expected);
        },
      ),
      { seed: 20261123, numRuns: 300 },
    );
  });
});
