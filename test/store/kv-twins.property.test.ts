/**
 * The memory twin and the LMDB state machine, fed the same random command batches, must agree
 * on everything observable: every result, range reads, events, and the snapshot image bytes.
 * A third, memory state machine fed one entry at a time checks that batching changes nothing.
 * Small limits make sessions expire and events trim all the time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KvCommand, KvCompare, KvSession, KvTxnOp } from '../../src/store/kv-command.ts';
import type { KvLimits } from '../../src/store/kv-limits.ts';
import { LmdbKvStateMachine } from '../../src/store/lmdb-kv.ts';
import { MemoryKvStateMachine } from '../../src/store/memory-kv.ts';
import { utf8 } from '../../src/util/bytes.ts';
import { entriesOf } from './kv-fixtures.ts';
import { keptEvents, meta, observe, readAll } from './sm-harness.ts';

const LIMITS: KvLimits = { sessionIdleEntries: 6, maxSessions: 2, eventHistory: 7 };

const key = fc.constantFrom('a', 'b', 'ba', 'bb', 'c', 'd').map(utf8);
const value = fc.constantFrom('', '1', '2', 'xyz').map(utf8);
const num = fc.nat(12);
const session: fc.Arbitrary<KvSession | undefined> = fc.option(
  fc.record({ client: fc.constantFrom('p', 'q', 'r'), seq: fc.constantFrom(1, 1, 1, 2, 2, 3), since: fc.constantFrom(0, 0, 0, 3, 8) }),
  { nil: undefined, freq: 2 },
);
const range = fc.constantFrom<[string, string | null]>(['a', 'b'], ['b', 'c'], ['a', null], ['bb', 'd']).map(([s, e]) => ({
  start: utf8(s),
  end: e === null ? null : utf8(e),
}));
const op = fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const);
const compare: fc.Arbitrary<KvCompare> = fc.oneof(
  fc.record({ key, target: fc.constant('value' as const), op, value: fc.option(value, { nil: null }) }),
  fc.record({ key, target: fc.constantFrom('version' as const, 'createRevision' as const, 'modRevision' as const), op, value: num }),
);
const txnOp: fc.Arbitrary<KvTxnOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, value }),
  fc.record({ op: fc.constant('delete' as const), key }),
  fc.record({ op: fc.constant('get' as const), key }),
  range.map((r) => ({ op: 'deleteRange' as const, ...r })),
);
const withSession = (cmd: KvCommand, s: KvSession | undefined): KvCommand => (s ? { ...cmd, session: s } : cmd);
const command: fc.Arbitrary<KvCommand | null> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.tuple(key, value, session).map(([k, v, s]) => withSession({ op: 'put', key: k, value: v }, s)) },
  { weight: 2, arbitrary: fc.tuple(key, session).map(([k, s]) => withSession({ op: 'delete', key: k }, s)) },
  { weight: 1, arbitrary: fc.tuple(range, session).map(([r, s]) => withSession({ op: 'deleteRange', ...r }, s)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(key, fc.oneof(fc.constant(null), value, num.map((version) => ({ version })), num.map((modRevision) => ({ modRevision }))), value, session)
      .map(([k, e, v, s]) => withSession({ op: 'cas', key: k, expected: e, value: v }, s)),
  },
  { weight: 1, arbitrary: fc.tuple(key, session).map(([k, s]) => withSession({ op: 'get', key: k }, s)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.array(compare, { maxLength: 2 }), fc.array(txnOp, { maxLength: 3 }), fc.array(txnOp, { maxLength: 2 }), session)
      .map(([compares, success, failure, s]) => withSession({ op: 'txn', compares, success, failure }, s)),
  },
);
const batches = fc.array(fc.array(command, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 8 });

function run(commandBatches: (KvCommand | null)[][]): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-twins-'));
  const lmdb = LmdbKvStateMachine.open(dir, { limits: LIMITS });
  try {
    const memory = new MemoryKvStateMachine(LIMITS);
    const single = new MemoryKvStateMachine(LIMITS);
    let next = 1;
    for (const cmds of commandBatches) {
      const entries = entriesOf(next, 1 + Math.floor(next / 10), cmds);
      next += entries.length;
      const fromMemory = memory.apply(entries);
      expect(lmdb.apply(entries)).toEqual(fromMemory);
      expect(entries.flatMap((e) => single.apply([e]))).toEqual(fromMemory);
      const seen = observe(memory);
      expect(observe(lmdb)).toEqual(seen);
      expect(observe(single)).toEqual(seen);
    }
    const image = memory.snapshot();
    expect(lmdb.snapshot()).toEqual(image);
    expect(single.snapshot()).toEqual(image);
    expect(readAll(lmdb.openSnapshot(), 97)).toEqual(image);
    // Each restores the other's image to the same state.
    const restored = new MemoryKvStateMachine(LIMITS);
    restored.restore(meta(memory.appliedIndex(), memory.appliedTerm()), lmdb.snapshot());
    expect(observe(restored)).toEqual(observe(memory));
    expect(keptEvents(restored)).toEqual(keptEvents(lmdb));
  } finally {
    void lmdb.close().finally(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
}

describe('memory and LMDB state machines (property)', () => {
  it('agree on results, ranges, events and snapshot images for the same command batches', () => {
    fc.assert(
      fc.property(batches, (b) => run(b)),
      { seed: 20240611, numRuns: 60 },
    );
  });
});
