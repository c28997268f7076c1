/**
 * The records an apply batch wrote last, kept in memory so that the next put of a hot key finds
 * its previous record without a backend read and a decode (in bench:kv's in-process cluster,
 * every put is applied three times on one thread, and that read was a fifth of each apply).
 *
 * Write-through and never the source of truth: KvData writes the backend first, then here, and
 * KvLogic drops the whole cache whenever the backend may no longer hold what the cache says (a
 * batch threw, or the state is not the one the last batch left). Absent keys are cached too
 * (null), since a delete leaves one.
 *
 * Bounded by entries and by the bytes it keeps alive. A record's value may be a view into a
 * larger buffer (a pooled 8 KiB slab, an entry's command bytes), and it keeps the whole buffer
 * alive; each distinct buffer is counted once, however many cached values share it.
 */
import type { KvRecord } from './kv-record.ts';

/** Most records kept. */
export const RECORD_CACHE_MAX_ENTRIES = 16_384;
/** Most bytes of backing buffers the cached values keep alive. */
export const RECORD_CACHE_MAX_BYTES = 32 * 1024 * 1024;

export class KvRecordCache {
  /** latin1 key -> record (null: absent). Map order is first-insertion order: the oldest go first. */
  private readonly records = new Map<string, KvRecord | null>();
  /** Cached values per backing buffer, to count each buffer's bytes once. */
  private readonly buffers = new Map<ArrayBufferLike, number>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = RECORD_CACHE_MAX_ENTRIES,
    private readonly maxBytes = RECORD_CACHE_MAX_BYTES,
  ) {}

  /** The cached record (null: known absent), or undefined if not cached. */
  get(key: string): KvRecord | null | undefined {
    return this.records.get(key);
  }

  set(key: string, record: KvRecord | null): void {
    // A value whose buffer alone exceeds the budget is not worth keeping.
    if (record !== null && record.value.buffer.byteLength > this.maxBytes) return this.delete(key);
    const old = this.records.get(key);
    if (old !== undefined && old !== null) this.release(old.value.buffer);
    if (record !== null) this.retain(record.value.buffer);
    // An update keeps the key's place: eviction goes by first insertion, which costs a hot key
    // one read back per maxEntries other keys, and saves a delete and an insert per update.
    this.records.set(key, record);
    this.evict();
  }

  delete(key: string): void {
    const old = this.records.get(key);
    if (old === undefined) return;
    this.records.delete(key);
    if (old !== null) this.release(old.value.buffer);
  }

  clear(): void {
    this.records.clear();
    this.buffers.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.records.size;
  }

  /** Bytes of the distinct buffers the cached values keep alive. */
  get retainedBytes(): number {
    return this.bytes;
  }

  private evict(): void {
    while (this.records.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.records.keys().next();
      if (oldest.done) return;
      this.delete(oldest.value);
    }
  }

  private retain(buffer: ArrayBufferLike): void {
    const n = this.buffers.get(buffer) ?? 0;
    if (n === 0) this.bytes += buffer.byteLength;
    this.buffers.set(buffer, n + 1);
  }

  private release(buffer: ArrayBufferLike): void {
    const n = this.buffers.get(buffer)!;
    if (n > 1) {
      this.buffers.set(buffer, n - 1);
      return;
    }
    this.buffers.delete(buffer);
    this.bytes -= buffer.byteLength;
  }
}
