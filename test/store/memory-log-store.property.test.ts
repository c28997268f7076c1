/**
 * Crash safety of MemoryLogStore over MemoryDisk, as a property over random histories of
 * saves, snapshots, fsyncs (in and out of order) and crashes. After every crash the recovered
 * store must equal the replay of some prefix of the records written since the last recovery
 * that includes every acknowledged one: acknowledged writes survive, unacknowledged ones survive
 * only as a prefix (never a hole), and nothing is invented.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogStore } from '../../src/node/ports.ts';
import { EntryType, type Entry, type HardState, type Snapshot } from '../../src/raft/types.ts';
import { MemoryDisk } from '../../src/store/memory-disk.ts';
import { MemoryLogStore } from '../../src/store/memory-log-store.ts';
import { fromUtf8, utf8 } from '../../src/util/bytes.ts';
import { SeededRandom } from '../util/seeded-random.ts';

/** The log as plain data, so states compare with JSON. */
interface RefState {
  hs: HardState;
  snap: { index: number; term: number; data: string } | null;
  entries: { index: number; term: number; data: string }[];
}

type RefRecord =
  | { kind: 'entries'; entries: RefState['entries'] }
  | { kind: 'hardState'; hs: HardState }
  | { kind: 'snapshot'; snap: NonNullable<RefState['snap']> };

/** An oracle written independently of MemoryLog: the rules of ports.ts, as plainly as possible. */
function replay(base: RefState, records: readonly RefRecord[]): RefState {
  let s: RefState = structuredClone(base);
  for (const r of records) {
    if (r.kind === 'hardState') s.hs = r.hs;
    else if (r.kind === 'entries') {
      const first = r.entries[0]!.index;
      s.entries = [...s.entries.filter((e) => e.index < first), ...r.entries];
    } else {
      const at = s.entries.find((e) => e.index === r.snap.index);
      const cur = s.snap ?? { index: 0, term: 0 }; // no snapshot = the empty log's index 0, term 0
      const agrees = at !== undefined ? at.term === r.snap.term : cur.index === r.snap.index && cur.term === r.snap.term;
      s = { ...s, snap: r.snap, entries: agrees ? s.entries.filter((e) => e.index > r.snap.index) : [] };
    }
  }
  return s;
}

function observe(store: LogStore): RefState {
  const { hardState, snapshot } = store.initialState();
  const data = store.snapshot();
  const first = store.firstIndex();
  const last = store.lastIndex();
  const entries = last >= first ? store.entries(first, last + 1, Infinity) : [];
  return {
    hs: { ...hardState },
    snap: data ? { index: snapshot.index, term: snapshot.term, data: fromUtf8(data.data) } : null,
    entries: entries.map((e) => ({ index: e.index, term: e.term, data: fromUtf8(e.data) })),
  };
}

/** The structural guarantees any recovered log must meet, checked through the interface. */
function checkWellFormed(store: LogStore): void {
  const { snapshot } = store.initialState();
  expect(store.firstIndex()).toBe(snapshot.index + 1);
  expect(store.term(snapshot.index)).toBe(snapshot.term);
  let prevTerm = snapshot.term;
  for (let i = store.firstIndex(); i <= store.lastIndex(); i++) {
    const [e] = store.entries(i, i + 1, 0);
    expect(e!.index).toBe(i);
    expect(e!.term).toBeGreaterThanOrEqual(prevTerm);
    prevTerm = e!.term;
  }
}

type Op =
  | { t: 'save'; back: number; n: number; bump: number; withHs: boolean; hsBump: number; vote: number }
  | { t: 'snapshot'; mode: 'agree' | 'disagree' | 'beyond'; back: number }
  | { t: 'flush'; count: number }
  | { t: 'flushAt'; pick: number }
  | { t: 'crash'; seed: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('save' as const),
      back: fc.nat(3),
      n: fc.nat(3),
      bump: fc.nat(1),
      withHs: fc.boolean(),
      hsBump: fc.nat(1),
      vote: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('snapshot' as const),
      mode: fc.constantFrom('agree' as const, 'disagree' as const, 'beyond' as const),
      back: fc.nat(4),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('flushAt' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('crash' as const), seed: fc.nat() }) },
);

function run(ops: readonly Op[]): void {
  const disk = new MemoryDisk();
  const jobs: (() => void)[] = [];
  const options = { defer: (job: () => void) => void jobs.push(job) };
  let store = new MemoryLogStore(disk, options);
  let generation = 0;
  let base = observe(store);
  let records: RefRecord[] = [];
  let acked = 0; // records (of `records`) whose write was acknowledged
  let counter = 0;

  const onDone = (upTo: number) => {
    const g = generation;
    return (err?: Error) => {
      expect(err).toBeUndefined();
      expect(g, 'a write of a crashed store was acknowledged').toBe(generation);
      expect(upTo, 'acknowledged out of order').toBeGreaterThanOrEqual(acked);
      acked = upTo;
    };
  };

  const crash = (seed: number) => {
    disk.crash(new SeededRandom(seed));
    generation++;
    store = new MemoryLogStore(disk, options);
    checkWellFormed(store);
    const got = JSON.stringify(observe(store));
    const candidates: number[] = [];
    for (let m = acked; m <= records.length; m++) {
      if (JSON.stringify(replay(base, records.slice(0, m))) === got) candidates.push(m);
    }
    expect(candidates, `recovered ${got}; ${acked} of ${records.length} records acknowledged`).not.toHaveLength(0);
    base = observe(store);
    records = [];
    acked = 0;
  };

  for (const op of ops) {
    switch (op.t) {
      case 'save': {
        const first = Math.max(store.firstIndex(), store.lastIndex() + 1 - op.back);
        const term = store.term(first - 1) + op.bump;
        const entries: Entry[] = [];
        for (let i = 0; i < op.n; i++) {
          entries.push({ index: first + i, term, type: EntryType.Normal, data: utf8(`${first + i}/${term}/${counter++}`) });
        }
        const cur = store.initialState().hardState;
        const hsTerm = cur.term + op.hsBump;
        const hs: HardState | null = op.withHs
          ? { term: hsTerm, vote: hsTerm > cur.term || cur.vote === 0 ? op.vote : cur.vote, commit: first - 1 }
          : null;
        if (entries.length > 0) {
          records.push({ kind: 'entries', entries: entries.map((e) => ({ index: e.index, term: e.term, data: fromUtf8(e.data) })) });
        }
        if (hs) records.push({ kind: 'hardState', hs });
        store.save(hs, entries, onDone(records.length));
        break;
      }
      case 'snapshot': {
        const { index: snapIndex } = store.initialState().snapshot;
        const last = store.lastIndex();
        let index: number;
        let term: number;
        if (op.mode === 'beyond') {
          index = last + 1 + op.back;
          term = store.term(last) + 1;
        } else if (op.mode === 'disagree' && last - op.back > snapIndex) {
          index = last - op.back;
          term = store.term(index) + 1;
        } else {
          index = Math.max(snapIndex, last - op.back);
          term = store.term(index);
        }
        const data = `snap@${index}/${term}/${counter++}`;
        const snapshot: Snapshot = { meta: { index, term, conf: { voters: [1, 2, 3], learners: [] } }, data: utf8(data) };
        records.push({ kind: 'snapshot', snap: { index, term, data } });
        store.saveSnapshot(snapshot, onDone(records.length));
        break;
      }
      case 'flush':
        // Jobs of a crashed store are still queued: running them must change nothing.
        for (let i = 0; i < op.count && jobs.length > 0; i++) jobs.shift()!();
        break;
      case 'flushAt':
        if (jobs.length > 0) jobs.splice(op.pick % jobs.length, 1)[0]!();
        break;
      case 'crash':
        crash(op.seed);
        break;
    }
    // The live view is always the replay of everything written, durable or not.
    expect(observe(store)).toEqual(replay(base, records));
  }
  // Finally: after every fsync ran, a crash must keep everything.
  while (jobs.length > 0) jobs.shift()!();
  expect(acked).toBe(records.length);
  const expected = replay(base, records);
  crash(0);
  expect(observe(store)).toEqual(expected);
}

describe('MemoryLogStore crash safety (property)', () => {
  it('keeps every acknowledged write and recovers a prefix-consistent log', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => run(ops)),
      { seed: 42, numRuns: 200 },
    );
  });
});
