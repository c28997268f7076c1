/**
 * The memory twin of the LMDB backend: one SortedMap per table, atomic batches through an undo
 * log, and consistent views through copy-on-write (a table shared with an open view is copied
 * before its next write, so taking a view is free when nothing writes while it is open).
 */
import { assert } from '../util/assert.ts';
import { asUint8Array, binaryStringToBytes, bytesToBinaryString } from '../util/bytes.ts';
import { SortedMap } from '../util/sorted-map.ts';
import { KV_TABLES, type KvBackend, type KvEntry, type KvRestoreTarget, type KvSnapshotView, type KvTable } from './kv-backend.ts';

type Tables = Record<KvTable, SortedMap<Uint8Array>>;

interface Undo {
  readonly table: KvTable;
  readonly key: string;
  readonly prev: Uint8Array | undefined;
}

export function emptyTables(): Tables {
  return Object.fromEntries(KV_TABLES.map((t) => [t, new SortedMap<Uint8Array>()])) as Tables;
}

export class MemoryKvBackend implements KvBackend {
  private undo: Undo[] | null = null;
  /** Open views per table object: a shared table is copied before it is written. */
  private readonly viewers = new Map<SortedMap<Uint8Array>, number>();

  constructor(private tables: Tables = emptyTables()) {}

  get(table: KvTable, key: Uint8Array): Uint8Array | undefined {
    return readGet(this.tables, table, key);
  }

  range(table: KvTable, start: Uint8Array, end: Uint8Array | null, limit: number): KvEntry[] {
    return readRange(this.tables, table, start, end, limit);
  }

  batch<T>(fn: () => T): T {
    assert(this.undo === null, 'memory kv: batches do not nest');
    this.undo = [];
    try {
      const result = fn();
      this.undo = null;
      return result;
    } catch (e) {
      const undo = this.undo ?? [];
      this.undo = null;
      for (let i = undo.length - 1; i >= 0; i--) {
        const u = undo[i]!;
        if (u.prev === undefined) this.tables[u.table].delete(u.key);
        else this.tables[u.table].set(u.key, u.prev);
      }
      throw e;
    }
  }

  put(table: KvTable, key: Uint8Array, value: Uint8Array): void {
    const k = bytesToBinaryString(key);
    const t = this.writable(table);
    this.undo!.push({ table, key: k, prev: t.get(k) });
    // Copy: the caller keeps its array, and what is stored must never change under a view.
    t.set(k, value.slice());
  }

  delete(table: KvTable, key: Uint8Array): boolean {
    const k = bytesToBinaryString(key);
    const t = this.writable(table);
    const prev = t.get(k);
    if (prev === undefined) return false;
    this.undo!.push({ table, key: k, prev });
    return t.delete(k);
  }

  openView(): KvSnapshotView {
    const pinned = { ...this.tables };
    for (const t of Object.values(pinned)) this.viewers.set(t, (this.viewers.get(t) ?? 0) + 1);
    let open = true;
    return {
      get: (table, key) => readGet(pinned, table, key),
      range: (table, start, end, limit) => readRange(pinned, table, start, end, limit),
      close: () => {
        if (!open) return;
        open = false;
        for (const t of Object.values(pinned)) {
          const n = this.viewers.get(t)! - 1;
          if (n === 0) this.viewers.delete(t);
          else this.viewers.set(t, n);
        }
      },
    };
  }

  private writable(table: KvTable): SortedMap<Uint8Array> {
    assert(this.undo !== null, 'memory kv: writes only inside a batch');
    const t = this.tables[table];
    if (!this.viewers.has(t)) return t;
    const copy = t.clone();
    this.tables = { ...this.tables, [table]: copy };
    return copy;
  }
}

/** A restore target: fresh tables, made a backend of their own on commit. */
export function memoryRestoreTarget(install: (backend: MemoryKvBackend) => void): KvRestoreTarget {
  let tables: Tables | null = emptyTables();
  return {
    write(entries) {
      assert(tables !== null, 'memory restore target is closed');
      for (const e of entries) tables[e.table].set(bytesToBinaryString(e.key), e.value.slice());
    },
    commit() {
      assert(tables !== null, 'memory restore target is closed');
      install(new MemoryKvBackend(tables));
      tables = null;
    },
    discard() {
      tables = null;
    },
  };
}

function readGet(tables: Tables, table: KvTable, key: Uint8Array): Uint8Array | undefined {
  return tables[table].get(bytesToBinaryString(key));
}

/** The stored [key, value] pairs of [start, end), at most `limit`, with keys as the tables hold them. */
function scan(tables: Tables, table: KvTable, start: Uint8Array, end: Uint8Array | null, limit: number) {
  return tables[table].range(bytesToBinaryString(start), end === null ? null : bytesToBinaryString(end), limit);
}

function readRange(tables: Tables, table: KvTable, start: Uint8Array, end: Uint8Array | null, limit: number): KvEntry[] {
  return scan(tables, table, start, end, limit).map(([k, value]) => ({ key: binaryStringToBytes(k), value: asUint8Array(value) }));
}

