import { describe, expect, it } from 'vitest';
import { PairQueue } from '../../src/util/pair-queue.ts';

describe('PairQueue', () => {
  it('keeps pairs in order, adds to the last one, and shifts from the front', () => {
    const q = new PairQueue();
    expect(q.length).toBe(0);
    q.push(3, 1);
    q.addToLastB(1);
    q.push(5, 1);
    expect(q.length).toBe(2);
    expect([q.firstA(), q.firstB(), q.lastA()]).toEqual([3, 2, 5]);
    q.shift();
    expect([q.firstA(), q.firstB(), q.length]).toEqual([5, 1, 1]);
    q.clear();
    expect(q.length).toBe(0);
  });

  it('refuses to read or shift an empty queue', () => {
    const q = new PairQueue();
    expect(() => q.firstA()).toThrow(/empty/);
    expect(() => q.lastA()).toThrow(/empty/);
    expect(() => q.addToLastB(1)).toThrow(/empty/);
    expect(() => q.shift()).toThrow(/empty/);
  });

  it('stays in order across the compaction of its dead prefix', () => {
    const q = new PairQueue();
    for (let i = 1; i <= 5000; i++) q.push(i, -i);
    for (let i = 1; i <= 3000; i++) {
      expect([q.firstA(), q.firstB()]).toEqual([i, -i]);
      q.shift();
    }
    q.push(5001, -5001);
    expect(q.length).toBe(2001);
    expect([q.firstA(), q.lastA()]).toEqual([3001, 5001]);
  });
});
