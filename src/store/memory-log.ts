/**
 * The decoded Raft log kept in memory: hard state, latest snapshot and the entries after it.
 * The memory log store keeps one as the image of its file (live writes and recovery replay go
 * through the same methods, so the two cannot disagree), and serves the synchronous reads from it.
 * Every mutation asserts the log's invariants: a violation means a caller bug that would
 * otherwise be persisted.
 */
import { TesseraError } from '../errors.ts';
import { EMPTY_HARD_STATE, NONE, entrySize, type Entry, type HardState, type Snapshot, type SnapshotMeta } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import type { WalRecord } from './wal-record.ts';

export const EMPTY_SNAPSHOT_META: SnapshotMeta = Object.freeze({
  index: 0,
  term: 0,
  conf: Object.freeze({ voters: Object.freeze([]), learners: Object.freeze([]) }),
});

export class MemoryLog {
  private hard: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot | null = null;
  /** entries[i] has index snapMeta.index + 1 + i. */
  private ents: Entry[] = [];

  hardState(): HardState {
    return this.hard;
  }

  snapshot(): Snapshot | null {
    return this.snap;
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap?.meta ?? EMPTY_SNAPSHOT_META;
  }

  firstIndex(): number {
    return this.snapshotMeta().index + 1;
  }

  lastIndex(): number {
    return this.snapshotMeta().index + this.ents.length;
  }

  term(index: number): number {
    assert(Number.isSafeInteger(index) && index >= 0, () => `term(${index})`);
    const meta = this.snapshotMeta();
    if (index < meta.index) throw new TesseraError('COMPACTED', `term(${index}): compacted up to ${meta.index}`);
    if (index > this.lastIndex()) throw new TesseraError('UNAVAILABLE', `term(${index}): last index is ${this.lastIndex()}`);
    return index === meta.index ? meta.term : this.ents[index - meta.index - 1]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo <= hi, () => `entries(${lo}, ${hi})`);
    const meta = this.snapshotMeta();
    if (lo <= meta.index) throw new TesseraError('COMPACTED', `entries(${lo}, ${hi}): compacted up to ${meta.index}`);
    if (hi > this.lastIndex() + 1) {
      throw new TesseraError('UNAVAILABLE', `entries(${lo}, ${hi}): last index is ${this.lastIndex()}`);
    }
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - meta.index - 1]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Suffix truncation then append: entries replace everything from entries[0].index on. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const meta = this.snapshotMeta();
    assert(first.index > meta.index, () => `append at ${first.index} overwrites the snapshot at ${meta.index}`);
    assert(first.index <= this.lastIndex() + 1, () => `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    let prevTerm = this.term(first.index - 1);
    entries.forEach((e, i) => {
      assert(e.index === first.index + i, () => `append: entries not contiguous at ${e.index}`);
      assert(e.term >= prevTerm, () => `append: term ${e.term} at ${e.index} is below ${prevTerm} before it`);
      prevTerm = e.term;
    });
    this.ents.length = first.index - meta.index - 1;
    for (const e of entries) this.ents.push(e);
  }

  setHardState(hs: HardState): void {
    this.checkHardState(hs);
    this.hard = hs;
  }

  /** The assertions of setHardState, so a writer can check before it writes anything. */
  checkHardState(hs: HardState): void {
    const prev = this.hard;
    assert(hs.term >= prev.term, () => `hard state term went back from ${prev.term} to ${hs.term}`);
    // Changing a vote within a term is how Raft elects two leaders; refuse to persist it.
    assert(
      hs.term > prev.term || prev.vote === NONE || hs.vote === prev.vote,
      () => `vote changed from ${prev.vote} to ${hs.vote} within term ${hs.term}`,
    );
  }

  /**
   * Records the snapshot and drops the entries it covers. Entries after it survive only if the
   * log agrees with it at its index; otherwise the log was from a different history (or shorter)
   * and is discarded whole, as etcd's MemoryStorage.ApplySnapshot does.
   */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    const cur = this.snapshotMeta();
    assert(
      index > cur.index || (index === cur.index && term === cur.term),
      () => `snapshot ${index}/${term} is older than the current one ${cur.index}/${cur.term}`,
    );
    const agrees = index <= this.lastIndex() && this.term(index) === term;
    this.ents = agrees ? this.ents.slice(index - cur.index) : [];
    this.snap = snapshot;
  }

  apply(rec: WalRecord): void {
    switch (rec.kind) {
      case 'entries':
        return this.append(rec.entries);
      case 'hardState':
        return this.setHardState(rec.hardState);
      case 'snapshot':
        return this.applySnapshot(rec.snapshot);
    }
  }

  /** The fewest records that replay to this state: what compaction writes. */
  toRecords(): WalRecord[] {
    const out: WalRecord[] = [];
    if (this.snap) out.push({ kind: 'snapshot', snapshot: this.snap });
    out.push({ kind: 'hardState', hardState: this.hard });
    if (this.ents.length > 0) out.push({ kind: 'entries', entries: this.ents.slice() });
    return out;
  }
}
