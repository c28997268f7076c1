import { describe, expect, it } from 'vitest';
import { EntryType, entrySize, type Entry } from '../../src/raft/types.ts';
import { RecentEntries } from '../../src/store/recent-entries.ts';

const e = (index: number, term = 1, bytes = 10): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(bytes) });
const idx = (es: readonly Entry[] | null) => es?.map((x) => `${x.index}/${x.term}`) ?? null;

describe('RecentEntries', () => {
  it('keeps its own copy of data that is a view into a bigger buffer (a frame, a pool), and no copy of owned data', () => {
    const r = new RecentEntries(1 << 20);
    const frame = new Uint8Array(64 * 1024).fill(7);
    const view: Entry = { index: 1, term: 1, type: EntryType.Normal, data: frame.subarray(100, 110) };
    const owned = e(2);
    r.append([view, owned]);
    const [a, b] = r.get(1, 3, Infinity)!;
    expect(a!.data.buffer.byteLength).toBe(10);
    expect(Array.from(a!.data)).toEqual(Array(10).fill(7));
    expect(view.data.buffer).toBe(frame.buffer); // the caller's entry is left as it was
    expect(b).toBe(owned);
  });

  it('serves a contiguous run, and only whole requests inside it', () => {
    const r = new RecentEntries(1 << 20);
    r.append([e(5), e(6), e(7)]);
    expect(idx(r.get(5, 8, Infinity))).toEqual(['5/1', '6/1', '7/1']);
    expect(idx(r.get(6, 7, Infinity))).toEqual(['6/1']);
    expect(r.get(4, 6, Infinity)).toBeNull();
    expect(r.get(7, 9, Infinity)).toBeNull();
  });

  it('replaces a conflicting suffix, and starts over on a gap', () => {
    const r = new RecentEntries(1 << 20);
    r.append([e(1), e(2), e(3)]);
    r.append([e(2, 2), e(3, 2), e(4, 2)]);
    expect(idx(r.get(1, 5, Infinity))).toEqual(['1/1', '2/2', '3/2', '4/2']);
    r.append([e(9, 3)]);
    expect(r.get(1, 2, Infinity)).toBeNull();
    expect(idx(r.get(9, 10, Infinity))).toEqual(['9/3']);
  });

  it('evicts the oldest past its budget, and drops compacted entries', () => {
    const size = entrySize(e(1));
    const r = new RecentEntries(size * 3);
    r.append([e(1), e(2), e(3), e(4), e(5)]);
    expect(r.get(2, 3, Infinity)).toBeNull();
    expect(idx(r.get(3, 6, Infinity))).toEqual(['3/1', '4/1', '5/1']);
    r.dropThrough(3);
    expect(r.get(3, 4, Infinity)).toBeNull();
    expect(idx(r.get(4, 6, Infinity))).toEqual(['4/1', '5/1']);
  });

  it('stops at maxBytes but always returns at least one entry', () => {
    const r = new RecentEntries(1 << 20);
    r.append([e(1, 1, 100), e(2, 1, 100), e(3, 1, 100)]);
    expect(idx(r.get(1, 4, 1))).toEqual(['1/1']);
    expect(idx(r.get(1, 4, entrySize(e(1, 1, 100)) * 2))).toEqual(['1/1', '2/1']);
  });
});
