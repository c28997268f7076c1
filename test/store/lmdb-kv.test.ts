import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { KvLimits } from '../../src/store/kv-limits.ts';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { LmdbKvBackend } from '../../src/store/lmdb-kv-backend.ts';
import { b, entriesOf, put } from './kv-fixtures.ts';
import { closeLater, tempDir } from './lmdb-fixtures.ts';
import { meta, observe } from './sm-harness.ts';
import { describeStateMachineConformance } from './state-machine-conformance.ts';

function openLmdb(limits?: KvLimits, flags: { lazyMetaSync?: boolean } = {}) {
  const dir = tempDir('tessera-kv-');
  const options = { ...(limits && { limits }), ...flags };
  let sm = closeLater(LmdbKvStateMachine.open(dir, options));
  return {
    get sm() {
      return sm;
    },
    async reopen() {
      await sm.close();
      sm = closeLater(LmdbKvStateMachine.open(dir, options));
      return sm;
    },
  };
}

describeStateMachineConformance('LmdbKvStateMachine', openLmdb, { durable: true });
describeStateMachineConformance('LmdbKvStateMachine (lazyMetaSync)', (limits) => openLmdb(limits, { lazyMetaSync: true }), { durable: true });

describe('LmdbKvStateMachine', () => {
  const stateDirs = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('state-')).sort();

  it('keeps a restored state across reopen, in a fresh environment, the old one deleted', async () => {
    const source = openLmdb().sm;
    source.apply(entriesOf(1, 1, [put('k', 'restored', { client: 'c', seq: 1 })]));
    const image = source.snapshot();
    const dir = tempDir('tessera-kv-');
    const sm = LmdbKvStateMachine.open(dir);
    sm.apply(entriesOf(1, 1, [put('old', 'x')]));
    expect(stateDirs(dir)).toEqual(['state-1']);
    sm.restore(meta(1, 1), image);
    await sm.close();
    expect(stateDirs(dir)).toEqual(['state-2']);
    expect(fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8')).toBe('state-2\n');
    const reopened = closeLater(LmdbKvStateMachine.open(dir));
    expect(reopened.snapshot()).toEqual(image);
    expect(reopened.get(b('old'))).toBeNull();
  });

  it('deletes the leftovers of an interrupted restore on open, keeping the live state', async () => {
    const dir = tempDir('tessera-kv-');
    const sm = LmdbKvStateMachine.open(dir);
    sm.apply(entriesOf(1, 1, [put('k', 'v')]));
    const image = sm.snapshot();
    const writer = sm.beginRestore(meta(1, 1));
    writer.write(image.subarray(0, 10));
    expect(stateDirs(dir)).toEqual(['state-1', 'state-2']);
    await sm.close(); // aborts the restore, deleting state-2
    // As if a process had died mid-restore: environments CURRENT does not name stay on disk.
    for (const junk of ['state-2', 'state-7']) fs.mkdirSync(path.join(dir, junk));
    const reopened = closeLater(LmdbKvStateMachine.open(dir));
    expect(stateDirs(dir)).toEqual(['state-1']);
    expect(reopened.snapshot()).toEqual(image);
  });

  it('with lazyMetaSync, syncs a restored image before CURRENT names it, and syncs on makeDurable', async () => {
    const source = openLmdb().sm;
    source.apply(entriesOf(1, 1, [put('k', 'v')]));
    const image = source.snapshot();
    const dir = tempDir('tessera-kv-');
    const sm = closeLater(LmdbKvStateMachine.open(dir, { lazyMetaSync: true }));
    const currentAtSync: string[] = [];
    const sync = vi.spyOn(LmdbKvBackend.prototype, 'sync').mockImplementation(function (this: LmdbKvBackend) {
      currentAtSync.push(fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim());
    });
    try {
      const before = fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim();
      sm.restore(meta(1, 1), image);
      expect(currentAtSync).toEqual([before]); // synced while the old state was still the live one
      expect(fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim()).not.toBe(before);
      sm.makeDurable();
      expect(sync).toHaveBeenCalledTimes(2);
    } finally {
      sync.mockRestore();
    }
    sm.makeDurable(); // the real sync
    expect(sm.get(b('k'))?.value).toEqual(b('v'));
  });

  it('refuses a directory already open in this process', async () => {
    const dir = tempDir('tessera-kv-');
    closeLater(LmdbKvStateMachine.open(dir));
    expect(() => LmdbKvStateMachine.open(dir)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('survives many batches and reopens with identical observable state', async () => {
    const h = openLmdb();
    for (let i = 0; i < 50; i++) h.sm.apply(entriesOf(i * 4 + 1, 1, [put(`k${i % 7}`, `${i}`), null, put(`j${i}`, 'x', { client: `c${i % 3}`, seq: Math.floor(i / 3) + 1 }), null]));
    const seen = observe(h.sm);
    const image = h.sm.snapshot();
    const reopened = await h.reopen();
    expect(observe(reopened)).toEqual(seen);
    expect(reopened.snapshot()).toEqual(image);
  });
});
