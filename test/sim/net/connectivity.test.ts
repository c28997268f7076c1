import { describe, expect, it } from 'vitest';
import { Connectivity } from '../../../sim/net/connectivity.ts';

const NODES = [1, 2, 3, 4, 5];

/** Every ordered pair that can talk, as "a>b". */
function links(c: Connectivity): string[] {
  const out: string[] = [];
  for (const a of NODES) for (const b of NODES) if (a !== b && c.canReach(a, b)) out.push(`${a}>${b}`);
  return out;
}

describe('Connectivity', () => {
  it('starts fully connected', () => {
    expect(links(new Connectivity())).toHaveLength(20);
  });

  it('block is one-way and unblock undoes it', () => {
    const c = new Connectivity();
    c.block(1, 2);
    expect(c.canReach(1, 2)).toBe(false);
    expect(c.canReach(2, 1)).toBe(true);
    c.unblock(1, 2);
    expect(c.canReach(1, 2)).toBe(true);
  });

  it('partition is symmetric; unnamed nodes form one more group; a new partition replaces the old', () => {
    const c = new Connectivity();
    c.partition([[1, 2]]);
    expect(links(c)).toEqual(['1>2', '2>1', '3>4', '3>5', '4>3', '4>5', '5>3', '5>4']);
    c.partition([[1], [2, 3], [4]]);
    expect(links(c)).toEqual(['2>3', '3>2']);
    expect(() => c.partition([[1, 2], [2]])).toThrow(/INVARIANT/);
  });

  it('isolate cuts both directions, or only in or out', () => {
    const both = new Connectivity();
    both.isolate(3);
    expect(links(both).filter((l) => l.includes('3'))).toEqual([]);
    const deaf = new Connectivity();
    deaf.isolate(3, { oneWay: 'in' });
    expect(deaf.canReach(1, 3)).toBe(false);
    expect(deaf.canReach(3, 1)).toBe(true);
    const mute = new Connectivity();
    mute.isolate(3, { oneWay: 'out' });
    expect(mute.canReach(1, 3)).toBe(true);
    expect(mute.canReach(3, 1)).toBe(false);
    // Rules are not expanded per node: a node that appears later is covered too.
    expect(both.canReach(3, 99)).toBe(false);
  });

  it('connectOnly gives partial connectivity (the classic bridge node)', () => {
    const c = new Connectivity();
    // 1 and 5 can only reach 3, which reaches everybody.
    c.connectOnly(1, [3]);
    c.connectOnly(5, [3]);
    expect(c.canReach(1, 3) && c.canReach(3, 1) && c.canReach(5, 3) && c.canReach(3, 5)).toBe(true);
    expect(c.canReach(1, 5) || c.canReach(5, 1) || c.canReach(1, 2) || c.canReach(2, 1)).toBe(false);
    expect(c.canReach(2, 4)).toBe(true);
  });

  it('heal removes every rule', () => {
    const c = new Connectivity();
    c.block(1, 2);
    c.partition([[1], [2]]);
    c.isolate(3);
    c.connectOnly(4, [5]);
    c.heal();
    expect(links(c)).toHaveLength(20);
  });
});
