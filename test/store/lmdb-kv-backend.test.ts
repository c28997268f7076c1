/**
 * Grouped commits of the LMDB state machine (asyncCommits): batches share one write transaction
 * for a window, their results come at once, and nothing they wrote is lost by commitSoon() or
 * close() ending the window early.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import type { KvApplyResult } from '../../src/store/kv-logic.ts';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { LmdbKvBackend } from '../../src/store/lmdb-kv-backend.ts';
import { MemoryKvBackend } from '../../src/store/memory-kv-backend.ts';
import { b, entriesOf, put } from './kv-fixtures.ts';
import { closeLater, tempDir } from './lmdb-fixtures.ts';

interface Pending {
  readonly results: Promise<KvApplyResult[]>;
  readonly applied: Promise<void>;
}

function applyAsync(sm: LmdbKvStateMachine, entries: Entry[]): Pending {
  let results!: (r: KvApplyResult[]) => void;
  let applied!: (e?: Error) => void;
  const out = {
    results: new Promise<KvApplyResult[]>((resolve) => (results = resolve)),
    applied: new Promise<void>((resolve, reject) => (applied = (e) => (e ? reject(e) : resolve()))),
  };
  sm.applyAsync!(entries, results, applied);
  return out;
}

const open = (dir: string) => closeLater(LmdbKvStateMachine.open(dir, { asyncCommits: true, lazyMetaSync: true }));

describe('LmdbKvBackend grouped commits', () => {
  it('answers every batch before the group commits, serves reads of them, and commits them together on commitSoon', async () => {
    const sm = open(tempDir('tessera-group-'));
    const first = applyAsync(sm, entriesOf(1, 1, [put('a', '1')]));
    expect(await first.results).toEqual([{ ok: true, revision: 1, prev: null }]);
    const second = applyAsync(sm, entriesOf(2, 1, [put('a', '2'), put('b', '1')]));
    expect((await second.results)[0]).toMatchObject({ ok: true, revision: 2 });
    let committed = 0;
    void first.applied.then(() => committed++);
    void second.applied.then(() => committed++);
    // Reads go through the open transaction; the applied index waits for the commit.
    expect(sm.get(b('a'))?.value).toEqual(b('2'));
    sm.commitSoon();
    await Promise.all([first.applied, second.applied]);
    expect(committed).toBe(2);
    expect(sm.appliedIndex()).toBe(3);
  });

  it('commits an open group on close, so a reopened state machine has it', async () => {
    const dir = tempDir('tessera-group-');
    const sm = open(dir);
    const p = applyAsync(sm, entriesOf(1, 1, [put('k', 'v')]));
    await p.results;
    await sm.close();
    await p.applied;
    const again = open(dir);
    expect(again.appliedIndex()).toBe(1);
    expect(again.get(b('k'))?.value).toEqual(b('v'));
  });

  it('fails the whole group of a throwing batch: none of its batches is applied, later ones go on from before it', async () => {
    const sm = open(tempDir('tessera-group-'));
    const committed = applyAsync(sm, entriesOf(1, 1, [put('a', '1')]));
    sm.commitSoon();
    await committed.applied;
    const good = applyAsync(sm, entriesOf(2, 1, [put('b', '1')]));
    expect(await good.results).toEqual([{ ok: true, revision: 2, prev: null }]);
    const [bad] = entriesOf(3, 1, [put('x', 'y')]);
    const poisoned = applyAsync(sm, [{ ...bad!, data: Uint8Array.of(0xee, 1, 2) }]);
    await expect(poisoned.applied).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(good.applied).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(sm.appliedIndex()).toBe(1);
    expect(sm.get(b('b'))).toBeNull();
    // The group rolled back: its owner applies again from the state before it.
    const again = applyAsync(sm, entriesOf(2, 1, [put('b', '2')]));
    expect(await again.results).toEqual([{ ok: true, revision: 2, prev: null }]);
    sm.commitSoon();
    await again.applied;
    expect(sm.appliedIndex()).toBe(2);
    expect(sm.get(b('b'))?.value).toEqual(b('2'));
    expect(sm.get(b('x'))).toBeNull();
  });

  it('fails the batches still waiting for a group whose first batch threw', async () => {
    const backend = LmdbKvBackend.open(tempDir('tessera-group-'), { asyncCommits: true });
    const outcomes: string[] = [];
    const batch = (name: string, fn: () => void) =>
      new Promise<void>((resolve) =>
        backend.batchAsync!(fn, (e) => {
          outcomes.push(`${name}: ${e ? e.message : 'ok'}`);
          resolve();
        }),
      );
    const ran: string[] = [];
    // Both queue before lmdb-js starts the group's transaction.
    const first = batch('first', () => {
      backend.put('meta', b('k'), b('1'));
      throw new Error('boom');
    });
    const second = batch('second', () => ran.push('second'));
    await Promise.all([first, second]);
    expect(outcomes).toEqual(['first: boom', 'second: boom']);
    expect(ran).toEqual([]);
    expect(backend.get('meta', b('k'))).toBeUndefined();
    await backend.close();
  });

  it('runs beforeCommit once per commit, inside the transaction, after every batch of the group', async () => {
    // A window no slow machine outlasts: only commitSoon may end the group.
    const backend = LmdbKvBackend.open(tempDir('tessera-group-'), { asyncCommits: true, commitWindowMs: 60_000 });
    const calls: string[] = [];
    const flush = () => {
      calls.push('flush');
      backend.put('meta', b('flushed'), b(String(calls.length)));
    };
    const batch = (name: string) =>
      new Promise<void>((resolve, reject) =>
        backend.batchAsync!(
          () => calls.push(name),
          (e) => {
            calls.push(`done ${name}`);
            return e ? reject(e) : resolve();
          },
          flush,
        ),
      );
    const first = batch('a');
    const second = batch('b');
    // Both run on lmdb-js's writer thread's schedule (a loaded machine can take more than a few
    // ms to start it); the group then stays open, without flushing, until commitSoon.
    await vi.waitFor(() => expect(calls).toEqual(['a', 'b']), { timeout: 5000, interval: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(calls).toEqual(['a', 'b']);
    backend.commitSoon();
    await Promise.all([first, second]);
    expect(calls).toEqual(['a', 'b', 'flush', 'done a', 'done b']);
    expect(backend.get('meta', b('flushed'))).toEqual(b('3'));
    // A group that fails does not run it.
    calls.length = 0;
    const failing = new Promise<Error | undefined>((resolve) =>
      backend.batchAsync!(
        () => {
          throw new Error('boom');
        },
        (e) => resolve(e),
        flush,
      ),
    );
    expect((await failing)?.message).toBe('boom');
    expect(calls).toEqual([]);
    await backend.close();
  });

  it('holds a session record until its group commits, and keeps exactly-once across a reopen', async () => {
    const dir = tempDir('tessera-group-');
    const sm = open(dir);
    const s = (seq: number) => ({ client: 'c', seq });
    const batches = [1, 2, 3].map((seq) => applyAsync(sm, entriesOf(seq, 1, [put('k', String(seq), s(seq))])));
    for (const p of batches) await p.results;
    // Commands of the open group answer from the held record, not from the table.
    const retry = applyAsync(sm, entriesOf(4, 1, [put('k', 'again', s(3))]));
    expect(await retry.results).toEqual([{ ok: true, revision: 3, prev: expect.objectContaining({ value: b('2') }) }]);
    await sm.close();
    await Promise.all([...batches, retry].map((p) => p.applied));
    const again = open(dir);
    const late = applyAsync(again, entriesOf(5, 1, [put('k', 'late', s(3))]));
    expect(await late.results).toEqual([{ ok: true, revision: 3, prev: expect.objectContaining({ value: b('2') }) }]);
    again.commitSoon();
    await late.applied;
    expect(again.get(b('k'))?.value).toEqual(b('3'));
  });

  it('reads a snapshot image from its own read transaction while a group is open', async () => {
    const sm = open(tempDir('tessera-group-'));
    const first = applyAsync(sm, entriesOf(1, 1, [put('a', '1')]));
    sm.commitSoon();
    await first.applied;
    const later = applyAsync(sm, entriesOf(2, 1, [put('a', '2'), put('b', '1')]));
    await later.results;
    // Taken while the group holding batch 2 is open: the image is the committed state.
    const image = sm.snapshot();
    const copy = open(tempDir('tessera-group-'));
    copy.restore({ index: 1, term: 1, conf: { voters: [1], learners: [] } }, image);
    expect(copy.appliedIndex()).toBe(1);
    expect(copy.get(b('a'))?.value).toEqual(b('1'));
    expect(copy.get(b('b'))).toBeNull();
    sm.commitSoon();
    await later.applied;
  });

  it('serves a view from its own read transaction, not from the open group', async () => {
    const backend = LmdbKvBackend.open(tempDir('tessera-group-'), { asyncCommits: true });
    const write = (value: string) => {
      let ran!: () => void;
      const running = new Promise<void>((resolve) => (ran = resolve));
      const committed = new Promise<void>((resolve, reject) => {
        backend.batchAsync!(
          () => {
            backend.put('meta', b('k'), b(value));
            ran();
          },
          (e) => (e ? reject(e) : resolve()),
        );
      });
      return { running, committed };
    };
    const first = write('1');
    backend.commitSoon();
    await first.committed;
    const view = backend.openView();
    const second = write('2');
    await second.running; // its group is open now, uncommitted
    expect(backend.get('meta', b('k'))).toEqual(b('2'));
    expect(view.get('meta', b('k'))).toEqual(b('1'));
    expect(view.range('meta', new Uint8Array(0), null, 10).map((e) => e.value)).toEqual([b('1')]);
    view.close();
    backend.commitSoon();
    await second.committed;
    await backend.close();
  });
});

describe('KvBackend.put', () => {
  it('copies key and value: a caller that reuses its buffers (ByteWriter.finishInto) changes nothing stored', async () => {
    const lmdb = LmdbKvBackend.open(tempDir('tessera-put-copy-'));
    for (const backend of [new MemoryKvBackend(), lmdb]) {
      const key = Uint8Array.of(1, 2, 3);
      const value = new Uint8Array(300).fill(7);
      backend.batch(() => {
        backend.put('data', key, value);
        key.fill(9);
        value.fill(0);
        expect(backend.get('data', Uint8Array.of(1, 2, 3))?.every((x) => x === 7)).toBe(true);
      });
      expect(backend.get('data', Uint8Array.of(9, 9, 9))).toBeUndefined();
      const stored = backend.get('data', Uint8Array.of(1, 2, 3));
      expect(stored?.length).toBe(300);
      expect(stored?.every((x) => x === 7)).toBe(true);
    }
    await lmdb.close();
  });
});

describe('KvBackend.range', () => {
  it('honours bounds and limits alike in both backends', async () => {
    const lmdb = LmdbKvBackend.open(tempDir('tessera-range-'));
    for (const backend of [new MemoryKvBackend(), lmdb]) {
      backend.batch(() => {
        for (let i = 0; i < 20; i++) backend.put('events', Uint8Array.of(0, i * 2), new Uint8Array(100).fill(i));
        backend.put('data', Uint8Array.of(0, 1), Uint8Array.of(1));
      });
      const keys = (start: Uint8Array, end: Uint8Array | null, limit: number) => backend.range('events', start, end, limit).map((e) => [...e.key]);
      expect(keys(new Uint8Array(0), null, 3)).toEqual([[0, 0], [0, 2], [0, 4]]);
      expect(keys(Uint8Array.of(0, 5), Uint8Array.of(0, 9), 100)).toEqual([[0, 6], [0, 8]]);
      expect(keys(Uint8Array.of(0, 6), Uint8Array.of(0, 6), 100)).toEqual([]);
      expect(keys(Uint8Array.of(1), null, 100)).toEqual([]);
      expect(backend.range('events', Uint8Array.of(0, 38), null, 100).map((e) => e.value[0])).toEqual([19]);
    }
    await lmdb.close();
  });
});
