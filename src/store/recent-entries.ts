/**
 * The newest entries a log store wrote, kept in memory (up to a byte budget): the runtime reads
 * them back right away, to apply them and to send them to followers, and for megabyte tensor
 * chunks a read from LMDB means a copy and a checksum pass each time. Entries this process just
 * wrote need no checksum (the checksum guards what comes back from the disk), and older entries
 * are read from LMDB as before. A contiguous run of indexes, oldest evicted first.
 */
import { entrySize, type Entry } from '../raft/types.ts';
import { ownedBytes } from '../util/alloc.ts';

/** Bytes of recent entries a log store keeps in memory. */
export const RECENT_ENTRY_BYTES = 64 * 1024 * 1024;

export class RecentEntries {
  private entries: Entry[] = [];
  private bytes = 0;

  constructor(private readonly budget: number = RECENT_ENTRY_BYTES) {}

  /** A committed save: entries from entries[0].index on replace whatever the cache held there. */
  append(added: readonly Entry[]): void {
    const first = added[0];
    if (first === undefined) return;
    const lo = this.entries[0]?.index;
    if (lo === undefined || first.index < lo || first.index > lo + this.entries.length) {
      // Not contiguous with what is cached: start over from these.
      this.clear();
    } else {
      for (const e of this.entries.splice(first.index - lo)) this.bytes -= entrySize(e);
    }
    for (const e of added) {
      // A view into a bigger buffer (a received frame, a pool) would keep all of it alive here.
      const data = ownedBytes(e.data);
      this.entries.push(data === e.data ? e : { ...e, data });
      this.bytes += entrySize(e);
    }
    let drop = 0;
    while (this.bytes > this.budget && drop < this.entries.length - 1) this.bytes -= entrySize(this.entries[drop++]!);
    if (drop > 0) this.entries = this.entries.slice(drop);
  }

  /** Compaction: entries up to `index` are gone from the log. */
  dropThrough(index: number): void {
    const lo = this.entries[0]?.index;
    if (lo === undefined || index < lo) return;
    const n = Math.min(this.entries.length, index - lo + 1);
    for (let i = 0; i < n; i++) this.bytes -= entrySize(this.entries[i]!);
    this.entries = this.entries.slice(n);
  }

  /** Entries [lo, hi) as LogStore.entries returns them, or null if not all of them are cached. */
  get(lo: number, hi: number, maxBytes: number): Entry[] | null {
    const first = this.entries[0]?.index;
    if (first === undefined || lo < first || hi > first + this.entries.length) return null;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - first]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  clear(): void {
    this.entries = [];
    this.bytes = 0;
  }
}
