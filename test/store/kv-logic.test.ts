/**
 * KvLogic's in-memory caches (records, session heads, meta rows) against a backend that loses
 * what a batch wrote after the batch ran whole: a commit that fails. The conformance suites
 * cover batches that throw; here nothing throws inside the batch, so only the check of where
 * the state stands can tell the caches are stale.
 */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/errors.ts';
import { EntryType, type Entry } from '../../src/raft/types.ts';
import { DEFAULT_KV_LIMITS } from '../../src/store/kv-limits.ts';
import { admitCommand, KvLogic, prepareCommands, type KvApplyResult } from '../../src/store/kv-logic.ts';
import { MemoryKvBackend } from '../../src/store/memory-kv-backend.ts';
import { b, entriesOf, put, rec } from './kv-fixtures.ts';

/** A memory backend whose next batch runs whole and is then rolled back, as a lost commit. */
class LosingBackend extends MemoryKvBackend {
  loseNext = false;

  override batch<T>(fn: () => T): T {
    return super.batch(() => {
      const out = fn();
      if (this.loseNext) {
        this.loseNext = false;
        throw new Error('commit lost');
      }
      return out;
    });
  }
}

/** The same, committing through batchAsync (as a node's LMDB state machine does). */
class LosingAsyncBackend extends LosingBackend {
  batchAsync = <T>(fn: () => T, done: (error: Error | undefined, value: T | undefined) => void, beforeCommit?: () => void): void => {
    let value: T | undefined;
    try {
      // Every batch is a commit of its own here.
      value = this.batch(() => {
        const v = fn();
        beforeCommit?.();
        return v;
      });
    } catch (e) {
      return done(e as Error, undefined);
    }
    done(undefined, value);
  };
}

const session = (seq: number) => ({ client: 'c', seq });

function applyAsync(logic: KvLogic, entries: Entry[]): Promise<KvApplyResult[]> {
  return new Promise((resolve, reject) => {
    let results: KvApplyResult[] = [];
    logic.applyAsync(
      entries,
      (r) => (results = r),
      (e) => (e ? reject(e) : queueMicrotask(() => resolve(results))),
    );
  });
}

describe('KvLogic caches', () => {
  it('are dropped when a batch that ran whole was not committed (apply)', () => {
    const backend = new LosingBackend();
    const logic = new KvLogic(backend, DEFAULT_KV_LIMITS);
    logic.apply(entriesOf(1, 1, [put('k', 'v1', session(1))]));
    const lost = entriesOf(2, 1, [put('k', 'v2', session(2)), put('new', 'x', session(3))]);
    backend.loseNext = true;
    expect(() => logic.apply(lost)).toThrow('commit lost');
    expect(logic.appliedIndex()).toBe(1);
    // Applied again, the batch must find the state as it is: v1, seq 1, no key 'new'.
    expect(logic.apply(lost)).toEqual([
      { ok: true, revision: 2, prev: rec('v1', 1, 1, 1) },
      { ok: true, revision: 3, prev: null },
    ]);
    expect(logic.get(b('k'))).toEqual(rec('v2', 1, 2, 2));
    expect(logic.events(1, 10).map((e) => e.revision)).toEqual([1, 2, 3]);
  });

  it('are dropped when a batch that ran whole was not committed (applyAsync)', async () => {
    const backend = new LosingAsyncBackend();
    const logic = new KvLogic(backend, DEFAULT_KV_LIMITS);
    await applyAsync(logic, entriesOf(1, 1, [put('k', 'v1', session(1))]));
    const lost = entriesOf(2, 1, [put('k', 'v2', session(2))]);
    backend.loseNext = true;
    await expect(applyAsync(logic, lost)).rejects.toThrow('commit lost');
    expect(await applyAsync(logic, lost)).toEqual([{ ok: true, revision: 2, prev: rec('v1', 1, 1, 1) }]);
    // The session's retry of seq 2 is answered from its record, not applied again.
    expect(await applyAsync(logic, entriesOf(3, 1, [put('k', 'v3', session(2))]))).toEqual([{ ok: true, revision: 2, prev: rec('v1', 1, 1, 1) }]);
    expect(logic.get(b('k'))).toEqual(rec('v2', 1, 2, 2));
  });

  it('serve later batches what earlier ones wrote, as a fresh reader of the backend would', () => {
    const cached = new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS);
    const fresh = new MemoryKvBackend();
    const history = [
      entriesOf(1, 1, [put('a', '1', session(1)), put('b', '1')]),
      entriesOf(3, 1, [put('a', '2', session(2)), put('a', '3', session(2))]),
      entriesOf(5, 2, [put('b', '2', session(3))]),
    ];
    for (const batch of history) {
      // A new KvLogic per batch has no caches: every read goes to the backend.
      expect(cached.apply(batch)).toEqual(new KvLogic(fresh, DEFAULT_KV_LIMITS).apply(batch));
    }
  });
});

describe('prepareCommands', () => {
  it('decodes ahead of apply: apply then uses what it decoded, and returns the same', () => {
    const commands = [put('a', '1', session(1)), null, put('a', '2', session(2)), put('b', '1')];
    const plain = new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS).apply(entriesOf(1, 1, commands));
    const prepared = entriesOf(1, 1, commands);
    prepareCommands(prepared);
    // Entry bytes never change once in a log; here they do, so that only a decode made before
    // (by prepareCommands) can still give the commands.
    for (const e of prepared) e.data.fill(0xff);
    expect(new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS).apply(prepared)).toEqual(plain);
    const unprepared = entriesOf(1, 1, commands);
    for (const e of unprepared) e.data.fill(0xff);
    expect(() => new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS).apply(unprepared)).toThrow(TesseraError);
  });

  it('leaves a command that does not decode to its apply, which refuses it as before', () => {
    const bad = { index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array([0xff, 0x01]) };
    expect(() => prepareCommands([bad])).not.toThrow();
    expect(() => new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS).apply([bad])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('admitCommand', () => {
  it('refuses what apply would refuse, and passes a command whose decode apply then reuses', () => {
    expect(() => admitCommand(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => admitCommand(new Uint8Array([0xff, 0x01]))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const [entry] = entriesOf(1, 1, [put('a', '1')]);
    const plain = new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS).apply(entriesOf(1, 1, [put('a', '1')]));
    admitCommand(entry!.data);
    entry!.data.fill(0xff); // as in prepareCommands' test: only the admitted decode can still give the command
    expect(new KvLogic(new MemoryKvBackend(), DEFAULT_KV_LIMITS).apply([entry!])).toEqual(plain);
  });
});
