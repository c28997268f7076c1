/** TensorStore on a real 3-node LMDB cluster: save, load, dedup, delete, gc, corruption, followers. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import type { Cluster } from '../../src/cluster/cluster.ts';
import { fromTypedArray, toTypedArray } from '../../src/tensor/dtype.ts';
import type { Tensor } from '../../src/tensor/tensor.ts';
import { TensorStore } from '../../src/tensor/tensor-store.ts';
import { decodeHead, headKey } from '../../src/store/model-keys.ts';
import { pattern } from './fixtures.ts';
import { startCluster, tempDir } from '../cluster/harness.ts';


const f32 = (shape: number[], seed: number): Tensor => ({ dtype: 'F32', shape, data: pattern(shape.reduce((a, b) => a * b, 1) * 4, seed) });

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(isTesseraError(e) ? e.code : String(e)).toBe(code);
}

async function setup(): Promise<{ cluster: Cluster; store: TensorStore }> {
  const cluster = await startCluster();
  return { cluster, store: new TensorStore(cluster.client()) };
}

describe('TensorStore', () => {
  it('saves and loads every dtype, empty and scalar tensors, and metadata, bit for bit', async () => {
    const { store } = await setup();
    const tensors: Record<string, Tensor> = {
      f64: { dtype: 'F64', shape: [3], data: pattern(24, 1) },
      f32: f32([2, 3], 2),
      f16: { dtype: 'F16', shape: [5], data: pattern(10, 3) },
      bf16: { dtype: 'BF16', shape: [1, 2], data: pattern(4, 4) },
      i64: { dtype: 'I64', shape: [2], data: pattern(16, 5) },
      i32: { dtype: 'I32', shape: [2], data: pattern(8, 6) },
      i16: { dtype: 'I16', shape: [2], data: pattern(4, 7) },
      i8: { dtype: 'I8', shape: [3], data: pattern(3, 8) },
      u64: { dtype: 'U64', shape: [1], data: pattern(8, 9) },
      u32: { dtype: 'U32', shape: [1], data: pattern(4, 10) },
      u16: { dtype: 'U16', shape: [1], data: pattern(2, 11) },
      u8: { dtype: 'U8', shape: [7], data: pattern(7, 12) },
      bool: fromTypedArray('BOOL', [3], [1, 0, 1]),
      empty: { dtype: 'F32', shape: [4, 0], data: new Uint8Array(0) },
      scalar: fromTypedArray('F32', [], [3.25]),
    };
    const saved = await store.save('all-dtypes', tensors, { metadata: { format: 'pt', step: '12' } });
    expect(saved.version).toBe(1);
    const loaded = await store.load('all-dtypes');
    expect(loaded.version).toBe(1);
    expect(loaded.metadata).toEqual({ format: 'pt', step: '12' });
    expect([...loaded.tensors.keys()]).toEqual(Object.keys(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      const got = loaded.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(Buffer.from(got.data).equals(Buffer.from(t.data)), name).toBe(true);
    }
    expect(Array.from(toTypedArray(loaded.tensors.get('scalar')!) as Float32Array)).toEqual([3.25]);
  });

  it('cuts large tensors into element-aligned chunks, loads some tensors into given buffers, and reloads old versions', async () => {
    const { store } = await setup();
    const big = f32([3, 100_001], 21); // 1.2 MB: three chunks of 512 KiB at chunkBytes 512 KiB
    const small = f32([10], 22);
    const v1 = await store.save('m', { big, small }, { chunkBytes: 512 * 1024 });
    expect(v1.chunks).toBe(4);
    const into = new Float32Array(3 * 100_001);
    const part = await store.load('m', { names: ['big'], into: { big: into } });
    expect([...part.tensors.keys()]).toEqual(['big']);
    expect(Buffer.from(into.buffer).equals(Buffer.from(big.data))).toBe(true);
    const v2 = await store.save('m', { big, small: f32([10], 23) }, { chunkBytes: 512 * 1024 });
    expect(v2.version).toBe(2);
    // Only the changed tensor was sent again.
    expect(v2.chunksWritten).toBe(1);
    const old = await store.load('m', { version: 1, names: ['small'] });
    expect(Buffer.from(old.tensors.get('small')!.data).equals(Buffer.from(small.data))).toBe(true);
    await expectCode(store.load('m', { names: ['nope'] }), 'NOT_FOUND');
    await expectCode(store.load('m', { version: 9 }), 'NOT_FOUND');
    await expectCode(store.load('other'), 'NOT_FOUND');
    await expectCode(store.load('m', { names: ['small'], into: { small: new Float32Array(3) } }), 'INVALID_ARGUMENT');
  });

  it('lists versions, deletes them (freeing only unshared chunks), and refuses a stale expected head', async () => {
    const { store } = await setup();
    const shared = f32([1000], 31);
    await store.save('m', { shared, a: f32([5], 32) });
    await store.save('m', { shared, a: f32([5], 33) });
    const info = await store.info('m');
    expect(info.head).toBe(2);
    expect(info.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(info.tensors.map((t) => t.name)).toEqual(['shared', 'a']);
    await expectCode(store.save('m', { a: f32([5], 34) }, { expectedHead: 1 }), 'CONFLICT');
    expect(await store.deleteVersion('m', 2)).toBe(1);
    const back = await store.load('m');
    expect(back.version).toBe(1);
    expect(Buffer.from(back.tensors.get('shared')!.data).equals(Buffer.from(shared.data))).toBe(true);
    await expectCode(store.deleteVersion('m', 2), 'NOT_FOUND');
    expect(await store.gc()).toBe(0);
  });

  it('gc collects the chunks of a save that died before its commit, and only those', async () => {
    const { cluster, store } = await setup();
    await store.save('m', { w: f32([10], 71) });
    const kv = cluster.client();
    const data = pattern(32, 72);
    const hash = new Uint8Array(createHash('sha256').update(data).digest());
    expect(await kv.modelCommand({ op: 'chunkPut', hash, data })).toMatchObject({ ok: true, existed: false });
    expect(await store.gc()).toBe(1);
    expect(await kv.readTable('chunks', hash)).toBeNull();
    expect((await store.load('m')).version).toBe(1);
  });

  it('loads from a follower after a ReadIndex, and the load sees the newest committed version', async () => {
    const { cluster, store } = await setup();
    await store.save('m', { w: f32([100], 41) });
    const leader = cluster.leader()!;
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    await store.save('m', { w: f32([100], 42) });
    const loaded = await store.load('m', { node: follower });
    expect(loaded.version).toBe(2);
    expect(Buffer.from(loaded.tensors.get('w')!.data).equals(Buffer.from(f32([100], 42).data))).toBe(true);
  });

  it('names the tensor and chunk when a stored chunk does not match its checksum', async () => {
    const dir = tempDir();
    const cluster = await startCluster({ dir });
    const store = new TensorStore(cluster.client());
    const w = f32([64], 51);
    const saved = await store.save('m', { w }, { chunkBytes: 64 });
    // Every replica must hold the chunks before it stops (a follower may still be applying).
    for (const id of [1, 2, 3]) expect(await cluster.node(id)!.waitApplied(saved.revision - 1, 10_000)).toBeGreaterThanOrEqual(saved.revision);
    // Flip a bit of chunk 2 in every replica's LMDB file, behind the state machine's back.
    const hash = new Uint8Array(createHash('sha256').update(w.data.subarray(128, 192)).digest());
    for (const id of [1, 2, 3]) {
      await cluster.stopNode(id);
      const stateDir = path.join(dir, `node-${id}`, 'state');
      const env = open({ path: path.join(stateDir, fs.readFileSync(path.join(stateDir, 'CURRENT'), 'utf8').trim()), maxDbs: 16 });
      const chunks = env.openDB<Buffer, Uint8Array>('chunks', { encoding: 'binary', keyEncoding: 'binary' });
      const stored = Buffer.from(chunks.getBinary(Buffer.from(hash))!);
      stored[5] = stored[5]! ^ 0x10;
      chunks.putSync(Buffer.from(hash), stored);
      await env.close();
    }
    for (const id of [1, 2, 3]) await cluster.startNode(id);
    const e = await store.load('m').catch((err: unknown) => err);
    expect(isTesseraError(e, 'CORRUPTION')).toBe(true);
    expect(String(e)).toContain('tensor w chunk 2');
  });

  it('keeps the head readable as a watchable key', async () => {
    const { cluster, store } = await setup();
    await store.save('m', { w: f32([4], 61) });
    const e = await cluster.client().get(headKey('m'));
    expect(decodeHead(e!.value).head).toBe(1);
  });
});
