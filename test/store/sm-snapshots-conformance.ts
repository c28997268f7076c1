/** Conformance: snapshots as streams — chunked reading and writing, consistency of the view, atomic restore. */
import { describe, expect, it } from 'vitest';
import { b, del, entriesOf, opPut, put, txn } from './kv-fixtures.ts';
import { expectCode, keptEvents, meta, observe, readAll, type OpenStateMachine } from './sm-harness.ts';

function history() {
  return entriesOf(1, 3, [
    put('alpha', 'x'.repeat(300)),
    put('beta', '2', { client: 'c1', seq: 1 }),
    txn([], [opPut('gamma', '3'), opPut('delta', '4')], [], { client: 'c2', seq: 1 }),
    null,
    del('beta'),
    put('eps', '', { client: 'c1', seq: 2 }),
  ]);
}

export function describeSnapshotConformance(open: OpenStateMachine): void {
  describe('streamed snapshots', () => {
    it('streams the same image in chunks of any size, at the reader’s index and term', () => {
      const { sm } = open();
      sm.apply(history());
      const whole = sm.snapshot();
      for (const chunk of [1, 7, 64, whole.length, whole.length + 10]) {
        const reader = sm.openSnapshot();
        expect([reader.index, reader.term]).toEqual([6, 3]);
        expect(readAll(reader, chunk)).toEqual(whole);
      }
    });

    it('restores from chunks cut anywhere, to the same state, events and sessions', () => {
      const { sm } = open();
      sm.apply(history());
      const image = sm.snapshot();
      for (const size of [1, 3, 13, 1000]) {
        const { sm: other } = open();
        const writer = other.beginRestore(meta(6, 3));
        for (let at = 0; at < image.length; at += size) writer.write(image.subarray(at, at + size));
        writer.finish();
        expect(other.snapshot()).toEqual(image);
        expect(observe(other)).toEqual(observe(sm));
        expect(keptEvents(other)).toEqual(keptEvents(sm));
        const retry = entriesOf(7, 3, [put('beta', 'again', { client: 'c1', seq: 1 })]);
        expect(other.apply(retry)).toEqual([{ ok: false, reason: 'session_stale' }]);
      }
    });

    it('restores from Node Buffers that are views into larger memory, and from chunks reused after each write', () => {
      const { sm } = open();
      sm.apply(history());
      const image = sm.snapshot();
      // Buffer.concat hands out a view into its shared pool (byteOffset > 0), and Buffer's
      // slice() is a view too: the parser must copy what it keeps and honour byteOffset.
      const pooled = Buffer.concat([Buffer.from(image)]);
      const { sm: whole } = open();
      whole.restore(meta(6, 3), pooled);
      expect(observe(whole)).toEqual(observe(sm));
      for (const size of [4, 64, 1000]) {
        const { sm: other } = open();
        const writer = other.beginRestore(meta(6, 3));
        const scratch = Buffer.alloc(size + 16);
        for (let at = 0; at < image.length; at += size) {
          const part = image.subarray(at, at + size);
          scratch.set(part, 16);
          writer.write(scratch.subarray(16, 16 + part.length));
          scratch.fill(0xa5); // a receive buffer reused for the next chunk
        }
        writer.finish();
        expect(other.snapshot()).toEqual(image);
        expect(observe(other)).toEqual(observe(sm));
      }
    });

    it('reads a consistent view: writes after openSnapshot do not show in the image', () => {
      const { sm } = open();
      sm.apply(history());
      const before = sm.snapshot();
      const reader = sm.openSnapshot();
      const head = reader.read(10)!;
      sm.apply(entriesOf(7, 3, [put('alpha', 'changed'), put('zeta', 'new'), del('gamma')]));
      const rest = readAll(reader, 5);
      expect(Uint8Array.of(...head, ...rest)).toEqual(before);
      expect(sm.get(b('zeta'))?.value).toEqual(b('new'));
    });

    it('leaves the old state in place until finish, and after an abort', () => {
      const source = open().sm;
      source.apply(history());
      const image = source.snapshot();
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('mine', '1', { client: 'c1', seq: 1 })]));
      const mine = sm.snapshot();
      const writer = sm.beginRestore(meta(6, 3));
      writer.write(image.subarray(0, image.length - 5));
      expect(sm.appliedIndex()).toBe(1);
      expect(sm.get(b('alpha'))).toBeNull();
      writer.abort();
      writer.abort(); // idempotent
      expect(sm.snapshot()).toEqual(mine);
      // The state machine goes on as if nothing happened.
      expect(sm.apply(entriesOf(2, 1, [put('mine', '2', { client: 'c1', seq: 2 })]))[0]).toMatchObject({ ok: true, revision: 2 });
      expect(() => writer.write(image)).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
    });

    it('keeps the old state when finish finds the image truncated, and when a chunk is corrupt', () => {
      const source = open().sm;
      source.apply(history());
      const image = source.snapshot();
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('mine', '1')]));
      const mine = sm.snapshot();
      const truncated = sm.beginRestore(meta(6, 3));
      truncated.write(image.subarray(0, image.length - 1));
      expectCode(() => truncated.finish(), 'CORRUPTION');
      expect(sm.snapshot()).toEqual(mine);
      const corrupt = sm.beginRestore(meta(6, 3));
      const bad = image.slice();
      bad[0] = 0;
      expectCode(() => corrupt.write(bad), 'CORRUPTION');
      expect(() => corrupt.finish()).toThrow(expect.objectContaining({ code: 'INVARIANT' })); // already aborted
      expect(sm.snapshot()).toEqual(mine);
    });

    it('lets a new restore supersede an unfinished one', () => {
      const source = open().sm;
      source.apply(history());
      const image = source.snapshot();
      const { sm } = open();
      const first = sm.beginRestore(meta(6, 3));
      first.write(image.subarray(0, 20));
      const second = sm.beginRestore(meta(6, 3));
      second.write(image);
      second.finish();
      expect(() => first.write(image.subarray(20))).toThrow(expect.objectContaining({ code: 'INVARIANT' }));
      expect(sm.snapshot()).toEqual(image);
    });

    it('streams and restores the empty state', () => {
      const empty = open().sm.snapshot();
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('k', 'v')]));
      sm.restore(meta(0, 0), empty);
      expect(sm.appliedIndex()).toBe(0);
      expect(sm.get(b('k'))).toBeNull();
      expect(sm.snapshot()).toEqual(empty);
    });

    it('serves a reader opened before a restore from the old state', () => {
      const source = open().sm;
      source.apply(history());
      const image = source.snapshot();
      const { sm } = open();
      sm.apply(entriesOf(1, 1, [put('mine', '1')]));
      const mine = sm.snapshot();
      const reader = sm.openSnapshot();
      sm.restore(meta(6, 3), image);
      expect(readAll(reader, 9)).toEqual(mine);
      expect(sm.snapshot()).toEqual(image);
    });
  });
}
