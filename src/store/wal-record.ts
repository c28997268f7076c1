/**
 * The logical records of the log store's write-ahead file and their payload encoding (framing
 * and checksums are wal-frame.ts's job). A payload that passed its checksum but does not parse
 * was written wrong or corrupted in a way the checksum missed; either way it is CORRUPTION.
 */
import { EntryType, type Entry, type HardState, type NodeId, type Snapshot } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';

export type WalRecord =
  /** A contiguous, non-empty batch; replaying it truncates the log from entries[0].index on. */
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot };

const KIND_ENTRIES = 1;
const KIND_HARD_STATE = 2;
const KIND_SNAPSHOT = 3;

export function encodeWalRecord(rec: WalRecord): Uint8Array {
  const w = new ByteWriter(64);
  switch (rec.kind) {
    case 'entries': {
      const first = rec.entries[0];
      assert(first !== undefined, 'empty entries record');
      // Contiguous by construction, so the index is written once.
      w.u8(KIND_ENTRIES).uvarint(first.index).uvarint(rec.entries.length);
      rec.entries.forEach((e, i) => {
        assert(e.index === first.index + i, () => `entries record not contiguous at ${e.index}`);
        w.uvarint(e.term).u8(e.type).bytes(e.data);
      });
      break;
    }
    case 'hardState':
      w.u8(KIND_HARD_STATE).uvarint(rec.hardState.term).uvarint(rec.hardState.vote).uvarint(rec.hardState.commit);
      break;
    case 'snapshot': {
      const { meta, data } = rec.snapshot;
      w.u8(KIND_SNAPSHOT).uvarint(meta.index).uvarint(meta.term);
      writeIds(w, meta.conf.voters);
      writeIds(w, meta.conf.learners);
      w.bytes(data);
      break;
    }
  }
  return w.finish();
}

export function decodeWalRecord(payload: Uint8Array, recordNumber: number): WalRecord {
  const r = new ByteReader(payload, `WAL record ${recordNumber}`, 'CORRUPTION');
  let rec: WalRecord;
  const kind = r.u8();
  switch (kind) {
    case KIND_ENTRIES: {
      const first = r.uvarint();
      const count = r.uvarint();
      if (count === 0) r.fail('empty entries record');
      // Each entry takes at least 3 bytes; a larger count is a lie that would make us allocate.
      if (count > r.remaining) r.fail(`entry count ${count} exceeds payload`);
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) {
        const term = r.uvarint();
        const type = r.u8();
        if (type !== EntryType.Normal && type !== EntryType.Empty) r.fail(`unknown entry type ${type}`);
        entries.push({ index: first + i, term, type, data: r.bytes() });
      }
      rec = { kind: 'entries', entries };
      break;
    }
    case KIND_HARD_STATE:
      rec = { kind: 'hardState', hardState: { term: r.uvarint(), vote: r.uvarint(), commit: r.uvarint() } };
      break;
    case KIND_SNAPSHOT: {
      const index = r.uvarint();
      const term = r.uvarint();
      const voters = readIds(r);
      const learners = readIds(r);
      rec = { kind: 'snapshot', snapshot: { meta: { index, term, conf: { voters, learners } }, data: r.bytes() } };
      break;
    }
    default:
      return r.fail(`unknown record kind ${kind}`);
  }
  r.end();
  return rec;
}

function writeIds(w: ByteWriter, ids: readonly NodeId[]): void {
  w.uvarint(ids.length);
  for (const id of ids) w.uvarint(id);
}

function readIds(r: ByteReader): NodeId[] {
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`id count ${n} exceeds payload`);
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) ids.push(r.uvarint());
  return ids;
}
