import { describe, expect, it } from 'vitest';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { SeededRandom, scriptedRandom } from '../util/seeded-random.ts';

const rec = (...bytes: number[]) => Uint8Array.from(bytes);

describe('MemoryDisk', () => {
  it('keeps synced records through any crash', () => {
    for (let seed = 0; seed < 50; seed++) {
      const disk = new MemoryDisk();
      disk.append(rec(1));
      disk.append(rec(2, 2));
      disk.sync();
      disk.append(rec(3, 3, 3));
      disk.crash(new SeededRandom(seed));
      expect(disk.records().slice(0, 2)).toEqual([rec(1), rec(2, 2)]);
      expect(disk.recordCount()).toBeLessThanOrEqual(3);
    }
  });

  it('keeps a prefix of the unsynced records, then maybe a torn byte prefix', () => {
    const disk = new MemoryDisk();
    disk.append(rec(1));
    disk.sync();
    for (let i = 2; i <= 4; i++) disk.append(rec(i, i, i, i));
    const report = disk.crash(scriptedRandom([1, 0, 2])); // keep 1 of 3, tear the next at 3 bytes
    expect(disk.records()).toEqual([rec(1), rec(2, 2, 2, 2), rec(3, 3, 3)]);
    expect(report).toMatch(/kept 1 of 3.*torn at 3 bytes/);
    expect(disk.syncedCount()).toBe(3); // what survived is on the platter
  });

  it('never tears a record when told not to', () => {
    for (let seed = 0; seed < 50; seed++) {
      const disk = new MemoryDisk();
      disk.append(rec(1, 1, 1));
      disk.append(rec(2, 2, 2));
      disk.crash(new SeededRandom(seed), { tear: false });
      for (const r of disk.records()) expect(r.length).toBe(3);
    }
  });

  it('can lose every unsynced record', () => {
    const disk = new MemoryDisk();
    disk.append(rec(1));
    disk.crash(scriptedRandom([0, 1]));
    expect(disk.recordCount()).toBe(0);
  });

  it('does not alias the caller buffer', () => {
    const disk = new MemoryDisk();
    const buf = rec(1, 2);
    disk.append(buf);
    buf[0] = 9;
    expect(disk.records()[0]).toEqual(rec(1, 2));
  });

  it('flips bits only in synced records', () => {
    const disk = new MemoryDisk();
    expect(disk.flipBit(new SeededRandom(1))).toBeNull();
    disk.append(rec(0, 0));
    disk.sync();
    disk.append(rec(0, 0));
    for (let seed = 0; seed < 20; seed++) disk.flipBit(new SeededRandom(seed));
    expect(disk.records()[1]).toEqual(rec(0, 0));
    expect(disk.flipBitAt(0, 9)).toBe('bit flip: record 0, byte 1, bit 1');
    expect(() => disk.flipBitAt(1, 0)).toThrow(/not synced/);
  });

  it('rewrites atomically, only over synced data', () => {
    const disk = new MemoryDisk();
    disk.append(rec(1));
    expect(() => disk.rewrite([rec(9)])).toThrow(/unsynced/);
    disk.sync();
    disk.rewrite([rec(9), rec(8)]);
    expect(disk.records()).toEqual([rec(9), rec(8)]);
    expect(disk.syncedCount()).toBe(2);
  });

  it('hands the file to one writer at a time and fences writers on crash', () => {
    const disk = new MemoryDisk();
    const a = disk.acquire();
    expect(disk.isOwner(a)).toBe(true);
    const b = disk.acquire();
    expect(disk.isOwner(a)).toBe(false);
    disk.crash(new SeededRandom(1));
    expect(disk.isOwner(b)).toBe(false);
  });
});
