/**
 * The core's view of the log: the durable part (read through `StableLog`) followed by an
 * unstable tail that has been appended in memory but not yet persisted. Entries leave the
 * unstable tail only after the runtime reports them durable (advance).
 */
import { TesseraError } from '../errors.ts';
import { assert } from '../util/assert.ts';
import { type Entry, type Snapshot, entrySize } from './types.ts';

/** The read side of a LogStore (ports.ts). */
export interface StableLog {
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number;
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  snapshot(): Snapshot | null;
}

export class RaftLog {
  /** Highest index known committed on a quorum. */
  committed: number;
  /** Highest index handed to the runtime for applying (in a Ready not yet advanced). */
  applying: number;
  /** Highest index the runtime reported applied. */
  applied: number;

  /** Unstable tail: entries[i].index === offset + i. */
  private unstableEntries: Entry[] = [];
  private offset: number;
  /** Entries below this index are being persisted by the runtime. */
  private offsetInProgress: number;
  private unstableSnapshot: Snapshot | null = null;
  private snapshotInProgress = false;

  constructor(
    private readonly storage: StableLog,
    committed: number,
    applied: number,
  ) {
    this.offset = storage.lastIndex() + 1;
    this.offsetInProgress = this.offset;
    const first = storage.firstIndex();
    // Everything up to the snapshot is committed and applied by construction.
    // Applied entries were committed, whatever the persisted commit says.
    this.committed = Math.max(committed, first - 1, applied);
    this.applied = Math.max(applied, first - 1);
    this.applying = this.applied;
    assert(this.committed <= this.lastIndex(), () => `restored commit ${this.committed} beyond last index ${this.lastIndex()}`);
    assert(this.applied <= this.committed, () => `restored applied ${this.applied} beyond commit ${this.committed}`);
  }

  firstIndex(): number {
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index + 1;
    return this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.offset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** Term at `index`, or null when compacted or beyond the log. */
  term(index: number): number | null {
    if (index === 0) return 0;
    if (index >= this.offset) {
      const e = this.unstableEntries[index - this.offset];
      if (e) return e.term;
      if (this.unstableSnapshot && index === this.unstableSnapshot.meta.index) return this.unstableSnapshot.meta.term;
      return null;
    }
    if (this.unstableSnapshot) {
      return index === this.unstableSnapshot.meta.index ? this.unstableSnapshot.meta.term : null;
    }
    const first = this.storage.firstIndex();
    if (index < first - 1 || index > this.storage.lastIndex()) return null;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== null, 'term of the last index must be known');
    return t;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [lo, hi), at most maxBytes (at least one). Throws COMPACTED when lo was compacted.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new TesseraError('COMPACTED', `index ${lo} compacted (first ${first})`);
    assert(hi <= this.lastIndex() + 1, () => `entries [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    if (lo < this.offset) {
      const stable = this.storage.entries(lo, Math.min(hi, this.offset), maxBytes);
      for (const e of stable) {
        bytes += entrySize(e);
        out.push(e);
      }
      if (out.length < Math.min(hi, this.offset) - lo || bytes >= maxBytes) return out;
    }
    for (let i = Math.max(lo, this.offset); i < hi; i++) {
      const e = this.unstableEntries[i - this.offset];
      assert(e !== undefined, () => `missing unstable entry ${i}`);
      const size = entrySize(e);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return out;
  }

  /** Appends after the caller checked they follow a matching entry; returns the new last index. */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const first = ents[0]!;
    assert(first.index - 1 >= this.committed, () => `append at ${first.index} would overwrite committed ${this.committed}`);
    for (let i = 1; i < ents.length; i++) {
      assert(ents[i]!.index === first.index + i, 'appended entries must be contiguous');
      assert(ents[i]!.term >= ents[i - 1]!.term, 'appended entry terms must not decrease');
    }
    const prevTerm = this.term(first.index - 1);
    assert(prevTerm !== null && prevTerm <= first.term, () => `append at ${first.index}: previous term ${prevTerm} vs ${first.term}`);
    this.truncateAndAppend(ents);
    return this.lastIndex();
  }

  private truncateAndAppend(ents: readonly Entry[]): void {
    const from = ents[0]!.index;
    if (from === this.offset + this.unstableEntries.length) {
      this.unstableEntries.push(...ents);
    } else if (from <= this.offset) {
      // Replaces the unstable tail and possibly some stable entries: the store truncates its suffix when it saves these.
      this.offset = from;
      this.offsetInProgress = from;
      this.unstableEntries = [...ents];
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, from - this.offset);
      this.unstableEntries.push(...ents);
      this.offsetInProgress = Math.min(this.offsetInProgress, from);
    }
  }

  /**
   * Follower side of AppendEntries: if our log matches (index, logTerm), append the new
   * entries (dropping a conflicting suffix) and advance commit. Returns the last new index,
   * or null on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      assert(conflict > this.committed, () => `entry ${conflict} conflicts with committed entry (commit ${this.committed})`);
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** First index among `ents` whose term differs from ours, or that we lack; 0 when all match. */
  private findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast back-off: the largest index <= `index` whose term is <= `term`, with its term.
   * A leader that probes there skips every entry of a conflicting term in one round trip.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (let i = index; i >= 0; i--) {
      const t = this.term(i);
      if (t === null) return [i, 0]; // compacted: let the leader decide (snapshot)
      if (t <= term) return [i, t];
    }
    return [0, 0];
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** §5.4.2: only an entry of the current term is committed by counting replicas. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  hasNextCommitted(): boolean {
    return this.applying < this.committed && !this.unstableSnapshot;
  }

  nextCommitted(maxBytes: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    return this.entries(Math.max(this.applying + 1, this.firstIndex()), this.committed + 1, maxBytes);
  }

  acceptApplying(index: number): void {
    assert(index <= this.committed, () => `applying ${index} beyond commit ${this.committed}`);
    this.applying = index;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, () => `applied ${index} beyond commit ${this.committed}`);
    assert(index >= this.applied, () => `applied regresses from ${this.applied} to ${index}`);
    this.applied = index;
  }

  // --- persistence hand-off ---

  hasUnstableToPersist(): boolean {
    return this.offsetInProgress < this.offset + this.unstableEntries.length || (this.unstableSnapshot !== null && !this.snapshotInProgress);
  }

  unstableToPersist(): Entry[] {
    return this.unstableEntries.slice(this.offsetInProgress - this.offset);
  }

  snapshotToPersist(): Snapshot | null {
    return this.unstableSnapshot && !this.snapshotInProgress ? this.unstableSnapshot : null;
  }

  markInProgress(): void {
    this.offsetInProgress = this.offset + this.unstableEntries.length;
    if (this.unstableSnapshot) this.snapshotInProgress = true;
  }

  /**
   * The last index of the log known durable: entries up to it are persisted and are this log's
   * (0 while a received snapshot waits to be persisted).
   */
  persistedLastIndex(): number {
    return this.unstableSnapshot ? 0 : this.offset - 1;
  }

  /** The runtime persisted entries up to (index, term): drop them from the unstable tail if still the same. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const e = this.unstableEntries[index - this.offset];
    if (!e || e.term !== term) return; // overwritten meanwhile; the newer entries are still to persist
    const n = index + 1 - this.offset;
    this.unstableEntries = this.unstableEntries.slice(n);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnapshot && this.unstableSnapshot.meta.index === index) {
      this.unstableSnapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** The runtime installed the snapshot into the state machine. */
  appliedSnapshot(index: number): void {
    this.applying = Math.max(this.applying, index);
    this.applied = Math.max(this.applied, index);
  }

  /** Follower installs a leader's snapshot: the whole log is replaced by it. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstableSnapshot = snapshot;
    this.snapshotInProgress = false;
    this.unstableEntries = [];
    this.offset = snapshot.meta.index + 1;
    this.offsetInProgress = this.offset;
  }

  /** The snapshot to send a lagging follower: a pending unstable one, else the store's. */
  snapshot(): Snapshot | null {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }
}
