import { describe, expect, it } from 'vitest';
import { KvRecordCache } from '../../src/store/kv-record-cache.ts';
import type { KvRecord } from '../../src/store/kv-record.ts';

const record = (value: Uint8Array): KvRecord => ({ value, createRevision: 1, modRevision: 1, version: 1 });

describe('KvRecordCache', () => {
  it('returns what was set, null for a key known absent, undefined for an unknown key', () => {
    const c = new KvRecordCache();
    const r = record(new Uint8Array(4));
    c.set('a', r);
    c.set('gone', null);
    expect(c.get('a')).toBe(r);
    expect(c.get('gone')).toBeNull();
    expect(c.get('other')).toBeUndefined();
  });

  it('drops the oldest entries beyond its entry bound', () => {
    const c = new KvRecordCache(3, 1 << 20);
    for (const k of ['a', 'b', 'c', 'd']) c.set(k, record(new Uint8Array(8)));
    expect(c.size).toBe(3);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')).toBeDefined();
    // Setting a key again keeps its place: the first inserted go first.
    c.set('b', null);
    expect(c.get('b')).toBeNull();
    c.set('e', null);
    expect(c.get('b')).toBeUndefined();
    expect([c.get('c'), c.get('d')].every((r) => r !== undefined)).toBe(true);
    expect(c.size).toBe(3);
  });

  it('counts each backing buffer once, however many cached values share it, and frees it with the last', () => {
    const c = new KvRecordCache(100, 1 << 20);
    const slab = new ArrayBuffer(8192);
    c.set('a', record(new Uint8Array(slab, 0, 10)));
    c.set('b', record(new Uint8Array(slab, 10, 10)));
    expect(c.retainedBytes).toBe(8192);
    c.set('own', record(new Uint8Array(300)));
    expect(c.retainedBytes).toBe(8192 + 300);
    c.delete('a');
    expect(c.retainedBytes).toBe(8192 + 300);
    c.set('b', null);
    expect(c.retainedBytes).toBe(300);
    c.clear();
    expect(c.retainedBytes).toBe(0);
    expect(c.size).toBe(0);
  });

  it('evicts the oldest until the buffers it keeps alive fit its byte bound', () => {
    const c = new KvRecordCache(100, 10_000);
    c.set('a', record(new Uint8Array(4000)));
    c.set('b', record(new Uint8Array(4000)));
    c.set('c', record(new Uint8Array(4000)));
    expect(c.get('a')).toBeUndefined();
    expect(c.retainedBytes).toBe(8000);
  });

  it('does not keep a value whose buffer alone exceeds the byte bound, and forgets the key', () => {
    const c = new KvRecordCache(100, 1000);
    c.set('k', record(new Uint8Array(10)));
    c.set('k', record(new Uint8Array(new ArrayBuffer(2000), 0, 10)));
    expect(c.get('k')).toBeUndefined();
    expect(c.retainedBytes).toBe(0);
  });
});
