/** How a conformance suite gets fresh state machines of the implementation under test. */
import { expect } from 'vitest';
import { isTesseraError, type TesseraErrorCode } from '../../src/errors.ts';
import { KvImageParser } from '../../src/store/kv-image-parser.ts';
import type { KvLimits } from '../../src/store/kv-limits.ts';
import type { KvStateMachine, SnapshotReader } from '../../src/store/kv-state-machine.ts';
import type { KvEntry, KvReadView } from '../../src/store/kv-backend.ts';
import { readEventLog } from '../../src/store/kv-events.ts';
import { MAX_RANGE_LIMIT } from '../../src/store/kv-limits.ts';
import { readEvents } from '../../src/store/kv-meta.ts';
import { bytesEqual, compareBytes, concatBytes } from '../../src/util/bytes.ts';

export interface StateMachineHarness {
  readonly sm: KvStateMachine;
  /** Durable implementations: close and open again on the same storage. */
  reopen?(): Promise<KvStateMachine>;
}

/** A fresh, empty state machine; `limits` overrides the defaults (every replica would share them). */
export type OpenStateMachine = (limits?: KvLimits) => StateMachineHarness;

export const meta = (index: number, term: number) => ({ index, term, conf: { voters: [1], learners: [] } });

export function expectCode(fn: () => unknown, code: TesseraErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isTesseraError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

/** Reads a snapshot reader to the end in chunks of `chunk` bytes, and closes it. */
export function readAll(reader: SnapshotReader, chunk: number): Uint8Array {
  const parts: Uint8Array[] = [];
  try {
    for (let c = reader.read(chunk); c !== null; c = reader.read(chunk)) {
      expect(c.length).toBeGreaterThan(0);
      expect(c.length).toBeLessThanOrEqual(chunk);
      parts.push(c);
    }
  } finally {
    reader.close();
  }
  return concatBytes(parts);
}

/** Everything observable through the read API, for comparing two state machines. */
export function observe(sm: KvStateMachine): unknown {
  const records: unknown[] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = sm.range(new Uint8Array(0), null, { limit: 7, ...(after ? { after } : {}) });
    records.push(...page.records);
    if (!page.more) break;
    after = page.after!;
  }
  return { applied: sm.appliedIndex(), term: sm.appliedTerm(), records, events: keptEvents(sm) };
}

/** Every event still kept: from the oldest revision that is not compacted. */
export function keptEvents(sm: KvStateMachine): { from: number; events: unknown[] } {
  for (let from = 1; ; from++) {
    try {
      return { from, events: sm.events(from, 10_000) };
    } catch (e) {
      if (!isTesseraError(e, 'COMPACTED')) throw e;
    }
  }
}

/**
 * Revisions of every event the state holds at or past its history's floor, read from its
 * snapshot image; throws if it still stores a closed block of trimmed events only, which a trim
 * must never leave behind.
 */
export function storedEventRevisions(sm: KvStateMachine): number[] {
  const rows: Record<'meta' | 'events', KvEntry[]> = { meta: [], events: [] };
  const parser = new KvImageParser((records) => {
    for (const r of records) if (r.table === 'meta' || r.table === 'events') rows[r.table].push({ key: r.key, value: r.value });
  });
  parser.push(sm.snapshot());
  parser.end();
  rows.events.sort((a, b) => compareBytes(a.key, b.key));
  const view: KvReadView = {
    get: (table, key) => (table === 'meta' ? rows.meta.find((r) => bytesEqual(r.key, key))?.value : undefined),
    range: (table, start, end, limit) =>
      table === 'events' ? rows.events.filter((r) => compareBytes(r.key, start) >= 0 && (end === null || compareBytes(r.key, end) < 0)).slice(0, limit) : [],
  };
  const { floor } = readEvents(view);
  // The last block is the open one, kept even when all its events are trimmed.
  for (const r of rows.events.slice(0, -1)) {
    const last = Number(Buffer.from(r.key).readBigUInt64BE(0));
    if (last < floor) throw new Error(`an event block ending at revision ${last} is kept below the floor ${floor}`);
  }
  return readEventLog(view, floor, MAX_RANGE_LIMIT).map((e) => e.revision);
}
