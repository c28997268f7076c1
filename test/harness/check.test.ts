/**
 * The harness's end checks on made-up replica states: an acknowledged write missing from a
 * replica's event log is lost; past a trimmed log, the final value decides (a later or concurrent
 * write may have replaced it, an earlier one may not); replicas that disagree are divergent.
 */
import { describe, expect, it } from 'vitest';
import { checkHistory, checkReplicas, type LoggedEvent, type ReplicaState } from '../../harness/check.ts';
import type { AckedWrite } from '../../harness/workload.ts';
import type { HistoryEvent } from '../../sim/check/history.ts';

// p0 puts a=x (rev 2), then p1 puts a=y (rev 3), then p2's put a=z is invoked and never answered.
const history: HistoryEvent[] = [
  { process: 0, type: 'invoke', f: 'put', key: 'a', value: 'x' },
  { process: 0, type: 'ok', f: 'put', key: 'a', value: 'x' },
  { process: 1, type: 'invoke', f: 'put', key: 'a', value: 'y' },
  { process: 1, type: 'ok', f: 'put', key: 'a', value: 'y' },
  { process: 2, type: 'invoke', f: 'put', key: 'a', value: 'z' },
  { process: 2, type: 'info', f: 'put', key: 'a', value: 'z' },
  { process: 3, type: 'invoke', f: 'get', key: 'a', value: null },
  { process: 3, type: 'ok', f: 'get', key: 'a', value: 'y' },
];
const acked: AckedWrite[] = [
  { process: 0, f: 'put', key: 'a', value: 'x', revision: 2 },
  { process: 1, f: 'put', key: 'a', value: 'y', revision: 3 },
];
const fullLog = new Map<number, LoggedEvent[]>([
  [2, [{ type: 'put', key: 'a', value: 'x' }]],
  [3, [{ type: 'put', key: 'a', value: 'y' }]],
]);

function replica(id: number, o: Partial<ReplicaState> = {}): ReplicaState {
  return { id, floor: 1, events: fullLog, values: new Map([['a', 'y']]), ...o };
}

const finalReads = new Map([['a', 'y']]);

describe('checkReplicas', () => {
  it('passes when every replica holds every acknowledged write and the final values agree', () => {
    const v = checkReplicas({ acked, history, replicas: [replica(1), replica(2), replica(3)], finalReads, leader: 1 });
    expect(v).toEqual({ lost: [], violations: [] });
  });

  it('counts a write missing from one replica log as lost, once, and reports the divergence', () => {
    const short = new Map(fullLog);
    short.delete(2);
    const v = checkReplicas({ acked, history, replicas: [replica(1), replica(2, { events: short }), replica(3, { events: short })], finalReads, leader: 1 });
    expect(v.lost).toHaveLength(1);
    expect(v.lost[0]).toMatchObject({ write: { value: 'x' }, missingOn: [2, 3] });
    expect(v.violations).toEqual([
      "replica divergence: node 2's event log differs from node 1's at revision 2",
      "replica divergence: node 3's event log differs from node 1's at revision 2",
    ]);
  });

  it('a put at the right revision with another value is not the acknowledged write', () => {
    const wrong = new Map(fullLog);
    wrong.set(3, [{ type: 'put', key: 'a', value: 'z' }]);
    const v = checkReplicas({ acked, history, replicas: [replica(1, { events: wrong })], finalReads, leader: 1 });
    expect(v.lost.map((l) => l.write.value)).toEqual(['y']);
  });

  it('past a trimmed log: a later or concurrent write may replace it, an earlier one may not, absence never', () => {
    const trimmed = (value: string | null) => replica(1, { floor: 10, events: new Map(), values: new Map([['a', value]]) });
    const lostWith = (value: string | null) => checkReplicas({ acked, history, replicas: [trimmed(value)], finalReads: new Map(), leader: 1 }).lost.map((l) => l.write.value);
    expect(lostWith('y')).toEqual([]); // y followed x: x was replaced, y holds
    expect(lostWith('z')).toEqual([]); // z's outcome is unknown and it may follow both
    expect(lostWith('x')).toEqual(['y']); // x completed before y was invoked: y is gone
    expect(lostWith(null)).toEqual(['x', 'y']);
    expect(lostWith('never-written')).toEqual(['x', 'y']);
  });

  it('a replica whose final value differs from the final linearizable read is divergent', () => {
    const v = checkReplicas({ acked, history, replicas: [replica(1), replica(2, { values: new Map([['a', 'x']]) })], finalReads, leader: 1 });
    expect(v.violations).toEqual(['replica divergence: node 2 holds "x" for "a", the final linearizable read gave "y"']);
  });
});

describe('checkHistory', () => {
  it('uses the simulator checker: a stale read is a violation', () => {
    expect(checkHistory(history, 5_000)).toEqual({ ok: true });
    const stale = [...history, { process: 4, type: 'invoke', f: 'get', key: 'a', value: null } as const, { process: 4, type: 'ok', f: 'get', key: 'a', value: 'x' } as const];
    const r = checkHistory(stale, 5_000);
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.report).toMatch(/not linearizable on key "a"/);
  });
});
