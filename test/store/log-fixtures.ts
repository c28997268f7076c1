/** Small builders shared by the log store tests. */
import { EntryType, type Entry, type HardState, type Snapshot } from '../../src/raft/types.ts';
import type { LogStore } from '../../src/node/ports.ts';
import { utf8 } from '../../src/util/bytes.ts';

export function ent(index: number, term: number, data: string = `e${index}t${term}`): Entry {
  return { index, term, type: EntryType.Normal, data: utf8(data) };
}

/** Entries lo..hi inclusive, all of one term. */
export function ents(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(ent(i, term));
  return out;
}

export function hs(term: number, vote: number, commit: number): HardState {
  return { term, vote, commit };
}

export function snap(index: number, term: number, data = `snap@${index}`): Snapshot {
  return { meta: { index, term, conf: { voters: [1, 2, 3], learners: [4] } }, data: utf8(data) };
}

/**
 * save() as a promise. A store may refuse a write by throwing or through the callback; both
 * become a rejection, so the suite does not depend on which.
 */
export function persist(store: LogStore, hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      store.save(hardState, entries, (err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}

export function persistSnapshot(store: LogStore, snapshot: Snapshot): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      store.saveSnapshot(snapshot, (err) => (err ? reject(err) : resolve()));
    } catch (err) {
      reject(err);
    }
  });
}

/** Everything the store holds, in a form toEqual can compare. */
export function dump(store: LogStore): unknown {
  const { hardState, snapshot } = store.initialState();
  const first = store.firstIndex();
  const last = store.lastIndex();
  return {
    hardState,
    snapshot: { index: snapshot.index, term: snapshot.term },
    snapshotData: store.snapshot()?.data ?? null,
    first,
    last,
    entries: last >= first ? store.entries(first, last + 1, Number.POSITIVE_INFINITY) : [],
  };
}
