import { describe, expect, it } from 'vitest';
import { KvEventQueue } from '../../src/store/kv-event-queue.ts';

describe('KvEventQueue', () => {
  it('counts events per revision, oldest first', () => {
    const q = new KvEventQueue();
    expect(q.firstRevision()).toBe(-1);
    expect(q.covers(0)).toBe(true);
    for (const r of [3, 3, 5, 9, 9, 9]) q.push(r);
    expect(q.covers(6)).toBe(true);
    expect(q.covers(7)).toBe(false);
    expect([q.firstRevision(), q.firstCount()]).toEqual([3, 2]);
    q.shift();
    expect([q.firstRevision(), q.firstCount()]).toEqual([5, 1]);
    q.dropBelow(9);
    expect([q.firstRevision(), q.firstCount()]).toEqual([9, 3]);
    expect(q.covers(3)).toBe(true);
    q.clear();
    expect(q.firstRevision()).toBe(-1);
  });

  it('refuses an older revision, a queue longer than the log, and a shift of nothing', () => {
    const q = new KvEventQueue();
    q.push(4);
    expect(() => q.push(3)).toThrow(/revision 3 after 4/);
    expect(() => q.covers(0)).toThrow(/holds 1 events/);
    q.shift();
    expect(() => q.shift()).toThrow(/empty/);
  });

  it('stays in order across the compaction of its dead prefix', () => {
    const q = new KvEventQueue();
    for (let r = 1; r <= 5000; r++) q.push(r);
    for (let r = 1; r <= 3000; r++) {
      expect(q.firstRevision()).toBe(r);
      q.shift();
    }
    expect(q.covers(2000)).toBe(true);
    q.push(5001);
    expect(q.covers(2001)).toBe(true);
    expect(q.firstRevision()).toBe(3001);
  });
});
