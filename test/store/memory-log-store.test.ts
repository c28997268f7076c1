import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { MemoryLogStore, immediateDefer, type MemoryLogStoreOptions } from '../../src/store/memory-log-store.ts';
import { SeededRandom, scriptedRandom } from '../util/seeded-random.ts';
import { describeLogStoreConformance, type LogStoreHarness } from './log-store-conformance.ts';
import { dump, ent, ents, hs, persist, snap } from './log-fixtures.ts';

function harness(options: MemoryLogStoreOptions, crashSeed = 1): () => LogStoreHarness {
  return () => {
    const disk = new MemoryDisk();
    let store = new MemoryLogStore(disk, options);
    return {
      get store() {
        return store;
      },
      async reopen() {
        await store.close();
        store = new MemoryLogStore(disk, options);
        return store;
      },
      crash() {
        disk.crash(new SeededRandom(crashSeed));
        store = new MemoryLogStore(disk, options);
        return store;
      },
    };
  };
}

describeLogStoreConformance('MemoryLogStore (immediate fsync)', harness({ defer: immediateDefer }), { snapshots: 'withData', powerLoss: true });
describeLogStoreConformance('MemoryLogStore (fsync in a microtask)', harness({ defer: queueMicrotask }), { snapshots: 'withData', powerLoss: true });

/** A defer the test drives by hand: jobs wait until the test runs them, as fsyncs in flight. */
function manualDefer() {
  const jobs: (() => void)[] = [];
  return {
    options: { defer: (job: () => void) => void jobs.push(job) } satisfies MemoryLogStoreOptions,
    jobs,
    runAll() {
      while (jobs.length > 0) jobs.shift()!();
    },
  };
}

describe('MemoryLogStore over MemoryDisk', () => {
  it('loses unsynced writes on a crash and keeps synced ones', () => {
    const disk = new MemoryDisk();
    const fsync = manualDefer();
    const store = new MemoryLogStore(disk, fsync.options);
    const acked: string[] = [];
    store.save(hs(1, 1, 0), ents(1, 2, 1), () => acked.push('a'));
    fsync.runAll();
    store.save(hs(1, 1, 2), ents(3, 4, 1), () => acked.push('b'));
    expect(store.lastIndex()).toBe(4); // visible before it is durable
    disk.crash(scriptedRandom([0, 1])); // keep none of the 2 unsynced records, no torn tail
    fsync.runAll(); // the dead store's fsync must not reach the disk
    expect(acked).toEqual(['a']);
    const reopened = new MemoryLogStore(disk, fsync.options);
    expect(reopened.lastIndex()).toBe(2);
    expect(reopened.initialState().hardState).toEqual(hs(1, 1, 0));
  });

  it('may keep unsynced writes in part: entries before their hard state', () => {
    const disk = new MemoryDisk();
    const fsync = manualDefer();
    const store = new MemoryLogStore(disk, fsync.options);
    store.save(hs(1, 1, 0), ents(1, 2, 1), () => {});
    fsync.runAll();
    store.save(hs(2, 1, 3), ents(3, 3, 2), () => {});
    disk.crash(scriptedRandom([1, 1])); // the entries record survives, its hard state does not
    const reopened = new MemoryLogStore(disk, fsync.options);
    expect(reopened.lastIndex()).toBe(3);
    expect(reopened.initialState().hardState).toEqual(hs(1, 1, 0));
  });

  it('cuts off a torn tail and reopens with the entries before it', async () => {
    const disk = new MemoryDisk();
    const fsync = manualDefer();
    const store = new MemoryLogStore(disk, fsync.options);
    store.save(null, ents(1, 3, 1), () => {});
    fsync.runAll();
    store.save(null, ents(4, 6, 1), () => {});
    const tail = disk.records()[1]!.length;
    disk.crash(scriptedRandom([0, 0, 4])); // keep 0 whole records, tear the next at 5 bytes
    expect(disk.records()[1]!.length).toBe(5);
    expect(tail).toBeGreaterThan(5);

    const reopened = new MemoryLogStore(disk, { defer: immediateDefer });
    expect(reopened.lastIndex()).toBe(3);
    expect(disk.recordCount()).toBe(1); // the torn bytes are gone from the file
    // Writing on must not leave the torn record stranded mid-file.
    await persist(reopened, null, ents(4, 5, 2));
    reopened.close();
    expect(new MemoryLogStore(disk, { defer: immediateDefer }).entries(1, 6, Infinity)).toEqual([
      ...ents(1, 3, 1),
      ...ents(4, 5, 2),
    ]);
  });

  it('cuts off a tail torn after its header (payload short)', () => {
    const disk = new MemoryDisk();
    const store = new MemoryLogStore(disk, manualDefer().options);
    store.save(null, ents(1, 3, 1), () => {});
    const length = disk.records()[0]!.length;
    disk.crash(scriptedRandom([0, 0, length - 2])); // all but the last byte
    expect(new MemoryLogStore(disk, { defer: immediateDefer }).lastIndex()).toBe(0);
  });

  it('throws CORRUPTION naming the record when any bit of a synced record flips', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const disk = new MemoryDisk();
      const store = new MemoryLogStore(disk, { defer: immediateDefer });
      await persist(store, hs(1, 1, 0), ents(1, 3, 1));
      await persist(store, hs(2, 1, 3), ents(4, 4, 2));
      store.close();
      const flip = disk.flipBit(new SeededRandom(seed));
      const record = Number(/record (\d+)/.exec(flip ?? '')?.[1]);
      let error: unknown;
      try {
        new MemoryLogStore(disk, { defer: immediateDefer });
      } catch (e) {
        error = e;
      }
      expect(isTesseraError(error, 'CORRUPTION'), `${flip}: ${String(error)}`).toBe(true);
      expect(String(error)).toContain(`WAL record ${record}:`);
    }
  });

  it('acknowledges in call order even if fsync jobs run out of order', () => {
    const disk = new MemoryDisk();
    const fsync = manualDefer();
    const store = new MemoryLogStore(disk, fsync.options);
    const acked: number[] = [];
    for (let i = 1; i <= 3; i++) store.save(null, [ent(i, 1)], () => acked.push(i));
    fsync.jobs[1]!(); // the second job's fsync covers the first write too
    expect(acked).toEqual([1, 2]);
    fsync.jobs[0]!();
    fsync.jobs[2]!();
    expect(acked).toEqual([1, 2, 3]);
  });

  it('compacts the file to snapshot, hard state and the entries after it', async () => {
    const disk = new MemoryDisk();
    const store = new MemoryLogStore(disk, { defer: immediateDefer });
    for (let i = 1; i <= 10; i++) await persist(store, hs(1, 1, i - 1), [ent(i, 1)]);
    expect(disk.recordCount()).toBe(20);
    store.saveSnapshot(snap(8, 1), () => {});
    expect(disk.recordCount()).toBe(3);
    expect(disk.syncedCount()).toBe(3);
  });

  it('fences a store whose disk crashed: later calls throw CLOSED', () => {
    const disk = new MemoryDisk();
    const store = new MemoryLogStore(disk, { defer: immediateDefer });
    disk.crash(new SeededRandom(1));
    expect(() => store.lastIndex()).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(() => store.save(null, [ent(1, 1)], () => {})).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });

  it('fences the previous store when the disk is opened again', () => {
    const disk = new MemoryDisk();
    const old = new MemoryLogStore(disk, { defer: immediateDefer });
    const current = new MemoryLogStore(disk, { defer: immediateDefer });
    expect(() => old.save(null, [ent(1, 1)], () => {})).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(current.lastIndex()).toBe(0);
  });

  it('recovers a file whose snapshot record was never compacted', () => {
    // The snapshot record follows the entries it covers until compaction rewrites the file;
    // a crash in between must still recover the snapshot's view.
    const disk = new MemoryDisk();
    const store = new MemoryLogStore(disk, manualDefer().options);
    store.save(hs(1, 1, 5), ents(1, 6, 1), () => {});
    store.saveSnapshot(snap(4, 1), () => {});
    disk.sync(); // the fsync landed, the compaction did not
    const before = dump(store);
    store.close();
    expect(disk.recordCount()).toBe(3);
    expect(dump(new MemoryLogStore(disk, { defer: immediateDefer }))).toEqual(before);
  });
});
