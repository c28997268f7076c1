/**
 * A simulated write-ahead file: an append-only list of byte records with a durability mark.
 * It outlives the node that writes it (the simulator keeps it across crashes), so it models
 * exactly what a real disk promises: bytes before the last fsync survive a crash, bytes after it
 * may survive in part, and the last of them may be torn. Faults are drawn from an injected
 * Random so a simulated run replays bit-for-bit from its seed.
 */
import type { Random } from '../node/ports.ts';
import { assert } from '../util/assert.ts';

export class MemoryDisk {
  private recs: Uint8Array[] = [];
  private synced = 0;
  private owner = 0;

  /** Number of records in the file (synced or not). */
  recordCount(): number {
    return this.recs.length;
  }

  /** Number of leading records that are durable. */
  syncedCount(): number {
    return this.synced;
  }

  byteLength(): number {
    let n = 0;
    for (const r of this.recs) n += r.length;
    return n;
  }

  /** The file's records for recovery. Read-only: the disk owns them. */
  records(): readonly Uint8Array[] {
    return this.recs;
  }

  /** Buffered write: lost on crash until the next sync(). */
  append(record: Uint8Array): void {
    assert(record.length > 0, 'empty disk record');
    // Copy: the caller may reuse its buffer, and flipBit must not reach into the caller's memory.
    this.recs.push(record.slice());
  }

  /** fsync: everything written so far becomes durable. */
  sync(): void {
    this.synced = this.recs.length;
  }

  /**
   * Atomically replaces the whole file, as write-temp + fsync + rename would. Only allowed when
   * everything is synced: compaction rewrites durable state, it never makes pending writes durable.
   */
  rewrite(records: readonly Uint8Array[]): void {
    assert(this.synced === this.recs.length, 'rewrite with unsynced records');
    this.recs = records.map((r) => {
      assert(r.length > 0, 'empty disk record');
      return r.slice();
    });
    this.synced = this.recs.length;
  }

  /** Durably drops every record from `count` on (recovery cutting off a torn tail). */
  truncate(count: number): void {
    assert(Number.isInteger(count) && count >= 0 && count <= this.recs.length, () => `truncate to ${count}`);
    this.recs.length = count;
    this.synced = Math.min(this.synced, count);
  }

  /**
   * Power loss. A random prefix of the unsynced records survives and the record after it may
   * survive as a torn byte prefix. Whatever is left is now on the platter, hence synced. The
   * writer that held the file is fenced off: its pending fsyncs must not run against the file
   * a restarted node recovers. `tear: false` models a clean power cut at a record boundary.
   */
  crash(random: Random, options: { readonly tear?: boolean } = {}): string {
    this.owner++;
    const unsynced = this.recs.length - this.synced;
    if (unsynced === 0) return 'crash: nothing unsynced';
    const kept = random.nextInt(unsynced + 1);
    let tornBytes = 0;
    if (kept < unsynced && options.tear !== false && random.nextInt(2) === 0) {
      const next = this.recs[this.synced + kept]!;
      if (next.length > 1) tornBytes = 1 + random.nextInt(next.length - 1);
    }
    const survivor = tornBytes > 0 ? this.recs[this.synced + kept]!.slice(0, tornBytes) : null;
    this.recs.length = this.synced + kept;
    if (survivor) this.recs.push(survivor);
    this.synced = this.recs.length;
    return `crash: kept ${kept} of ${unsynced} unsynced records` + (survivor ? `, tail torn at ${tornBytes} bytes` : '');
  }

  /** Silent corruption of durable data: flips one random bit of one synced record. */
  flipBit(random: Random): string | null {
    if (this.synced === 0) return null;
    const record = random.nextInt(this.synced);
    const bit = random.nextInt(this.recs[record]!.length * 8);
    return this.flipBitAt(record, bit);
  }

  /** flipBit at a chosen place, for tests that target a specific field. */
  flipBitAt(record: number, bit: number): string {
    assert(record >= 0 && record < this.synced, () => `flipBitAt: record ${record} is not synced`);
    const r = this.recs[record]!;
    assert(bit >= 0 && bit < r.length * 8, () => `flipBitAt: bit ${bit} outside record ${record}`);
    const byte = bit >>> 3;
    r[byte] = r[byte]! ^ (1 << (bit & 7));
    return `bit flip: record ${record}, byte ${bit >>> 3}, bit ${bit & 7}`;
  }

  /**
   * Claims the file for a newly opened writer and returns its token; any earlier writer (or one
   * from before a crash) no longer owns it. Models the process holding the file open.
   */
  acquire(): number {
    return ++this.owner;
  }

  isOwner(token: number): boolean {
    return this.owner === token;
  }
}
