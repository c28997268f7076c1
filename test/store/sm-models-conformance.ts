/**
 * Conformance: the model commands (content-addressed chunks, version commits and deletes,
 * chunk gc) and the parameter server (init, push under bsp / ssp / asp, float32 updates).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KvCommand, KvResult } from '../../src/store/kv-command.ts';
import { decodeHead, decodeStoredVersion, headKey, versionKey } from '../../src/store/model-keys.ts';
import type { ManifestTensor, ModelManifest } from '../../src/store/model-manifest.ts';
import { decodeParamState } from '../../src/store/param-state.ts';
import { entriesOf, put } from './kv-fixtures.ts';
import { meta, observe, readAll, type OpenStateMachine } from './sm-harness.ts';

const sha = (d: Uint8Array) => new Uint8Array(createHash('sha256').update(d).digest());
const bytes = (...v: number[]) => Uint8Array.from(v);
const chunkPut = (data: Uint8Array): KvCommand => ({ op: 'chunkPut', hash: sha(data), data });
const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const fromF32 = (b: Uint8Array) => Array.from(new Float32Array(b.slice().buffer));

/** A U8 tensor of `data` cut in chunks of `chunkBytes`. */
function u8Tensor(name: string, data: Uint8Array, chunkBytes: number): ManifestTensor {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += chunkBytes) chunks.push(sha(data.subarray(at, at + chunkBytes)));
  return { name, dtype: 'U8', shape: [data.length], chunkBytes, chunks };
}
const manifestOf = (...tensors: ManifestTensor[]): ModelManifest => ({ tensors, metadata: [['format', 'test']] });
const commit = (model: string, manifest: ModelManifest, expectedHead: number | null = null): KvCommand => ({ op: 'commitVersion', model, expectedHead, manifest });

export function describeModelConformance(open: OpenStateMachine): void {
  describe('model commands', () => {
    it('stores a chunk under its SHA-256 once, and refuses bytes that do not match the address', () => {
      const { sm } = open();
      const data = bytes(1, 2, 3);
      const r = sm.apply(entriesOf(1, 1, [chunkPut(data), chunkPut(data), { op: 'chunkPut', hash: sha(bytes(9)), data }]));
      expect(r[0]).toEqual({ ok: true, revision: 1, existed: false });
      expect(r[1]).toEqual({ ok: true, revision: 2, existed: true });
      expect(r[2]).toEqual({ ok: false, reason: 'invalid', message: 'chunk bytes do not hash to their address' });
      expect(Array.from(sm.readTable('chunks', sha(data))!)).toEqual([1, 2, 3]);
      expect(sm.readTable('chunks', sha(bytes(9)))).toBeNull();
      // Chunk writes are not watch events: the event log would keep a second copy of every chunk.
      expect(sm.events(1, 100)).toEqual([]);
    });

    it('commits a version only when every chunk is in, then moves the head', () => {
      const { sm } = open();
      const a = bytes(1, 2, 3, 4, 5);
      const m = manifestOf(u8Tensor('a', a, 2));
      sm.apply(entriesOf(1, 1, [chunkPut(a.subarray(0, 2)), chunkPut(a.subarray(4))]));
      const [missing] = sm.apply(entriesOf(3, 1, [commit('net', m)]));
      expect(missing).toEqual({ ok: false, reason: 'missing_chunks', missing: [sha(a.subarray(2, 4))] });
      expect(sm.get(headKey('net'))).toBeNull();
      const [, done] = sm.apply(entriesOf(4, 1, [chunkPut(a.subarray(2, 4)), commit('net', m)]));
      expect(done).toEqual({ ok: true, revision: 5, version: 1 });
      expect(decodeHead(sm.get(headKey('net'))!.value)).toEqual({ head: 1, latest: 1 });
      const stored = decodeStoredVersion(sm.get(versionKey('net', 1))!.value);
      expect(stored.version).toBe(1);
      expect(stored.createdRevision).toBe(5);
      expect(stored.manifest).toEqual(m);
      // The head is a watchable key: a loader can wait for new versions.
      expect(sm.events(5, 10).map((e) => Buffer.from(e.key).toString())).toEqual(['m/net/v/0000000000000001', 'm/net/head']);
    });

    it('refuses a commit whose expected head moved, and one whose chunk lengths disagree with the manifest', () => {
      const { sm } = open();
      const a = bytes(1, 2, 3, 4);
      sm.apply(entriesOf(1, 1, [chunkPut(a), commit('net', manifestOf(u8Tensor('a', a, 4)), 0)]));
      const r = sm.apply(entriesOf(3, 1, [commit('net', manifestOf(u8Tensor('a', a, 4)), 0)]));
      expect(r[0]).toEqual({ ok: false, reason: 'head_moved', head: 1 });
      // A 4-byte chunk named as the first 2 bytes of a tensor cut in 2-byte chunks.
      const lying: ManifestTensor = { name: 'a', dtype: 'U8', shape: [4], chunkBytes: 2, chunks: [sha(a), sha(a)] };
      const [bad] = sm.apply(entriesOf(4, 1, [commit('net', manifestOf(lying))]));
      expect(bad).toMatchObject({ ok: false, reason: 'invalid' });
      expect(decodeHead(sm.get(headKey('net'))!.value).head).toBe(1);
    });

    it('shares unchanged chunks between versions and frees a chunk only when no version names it', () => {
      const { sm } = open();
      const shared = bytes(7, 7, 7, 7);
      const old = bytes(1, 1, 1, 1);
      const next = bytes(2, 2, 2, 2);
      sm.apply(
        entriesOf(1, 1, [
          chunkPut(shared),
          chunkPut(old),
          commit('net', manifestOf(u8Tensor('frozen', shared, 4), u8Tensor('head', old, 4))),
          chunkPut(shared), // a second save re-sends nothing new for the frozen tensor
          chunkPut(next),
          commit('net', manifestOf(u8Tensor('frozen', shared, 4), u8Tensor('head', next, 4))),
        ]),
      );
      const [del1] = sm.apply(entriesOf(7, 1, [{ op: 'deleteVersion', model: 'net', version: 1 }]));
      expect(del1).toEqual({ ok: true, revision: 7, version: 2 });
      expect(sm.readTable('chunks', sha(old))).toBeNull();
      expect(sm.readTable('chunks', sha(shared))).not.toBeNull();
      expect(sm.readTable('chunks', sha(next))).not.toBeNull();
      const [del2] = sm.apply(entriesOf(8, 1, [{ op: 'deleteVersion', model: 'net', version: 2 }]));
      expect(del2).toEqual({ ok: true, revision: 8, version: 0 });
      expect(sm.readTable('chunks', sha(shared))).toBeNull();
      expect(decodeHead(sm.get(headKey('net'))!.value)).toEqual({ head: 0, latest: 2 });
      expect(sm.apply(entriesOf(9, 1, [{ op: 'deleteVersion', model: 'net', version: 2 }]))[0]).toEqual({ ok: false, reason: 'not_found' });
      // Version numbers are never reused.
      sm.apply(entriesOf(10, 1, [chunkPut(old), commit('net', manifestOf(u8Tensor('x', old, 4)))]));
      expect(decodeHead(sm.get(headKey('net'))!.value)).toEqual({ head: 3, latest: 3 });
    });

    it('deleting the head falls back to the newest remaining version; deleting another keeps the head', () => {
      const { sm } = open();
      const cmds: KvCommand[] = [];
      for (let v = 1; v <= 3; v++) cmds.push(chunkPut(bytes(v)), commit('net', manifestOf(u8Tensor('w', bytes(v), 1))));
      sm.apply(entriesOf(1, 1, cmds));
      expect(sm.apply(entriesOf(7, 1, [{ op: 'deleteVersion', model: 'net', version: 2 }]))[0]).toEqual({ ok: true, revision: 7, version: 3 });
      expect(sm.apply(entriesOf(8, 1, [{ op: 'deleteVersion', model: 'net', version: 3 }]))[0]).toEqual({ ok: true, revision: 8, version: 1 });
    });

    it('gc removes only unreferenced chunks older than the given revision', () => {
      const { sm } = open();
      const kept = bytes(1);
      const orphan = bytes(2);
      const young = bytes(3);
      sm.apply(entriesOf(1, 1, [chunkPut(kept), commit('net', manifestOf(u8Tensor('k', kept, 1))), chunkPut(orphan), chunkPut(young)]));
      const [r] = sm.apply(entriesOf(5, 1, [{ op: 'gcChunks', before: 4 }]));
      expect(r).toEqual({ ok: true, revision: 5, deleted: 1 });
      expect(sm.readTable('chunks', sha(orphan))).toBeNull();
      expect(sm.readTable('chunks', sha(young))).not.toBeNull();
      expect(sm.readTable('chunks', sha(kept))).not.toBeNull();
    });

    it('empty and scalar tensors commit with zero and one chunk', () => {
      const { sm } = open();
      const scalar = f32(1.5);
      const m: ModelManifest = {
        tensors: [
          { name: 'empty', dtype: 'F32', shape: [2, 0], chunkBytes: 1024, chunks: [] },
          { name: 'scalar', dtype: 'F32', shape: [], chunkBytes: 1024, chunks: [sha(scalar)] },
        ],
        metadata: [],
      };
      expect(sm.apply(entriesOf(1, 1, [chunkPut(scalar), commit('net', m)]))[1]).toEqual({ ok: true, revision: 2, version: 1 });
    });

    it('chunks, refs and parameter sets survive a snapshot and restore', () => {
      const { sm } = open();
      const data = bytes(5, 6, 7);
      sm.apply(entriesOf(1, 1, [chunkPut(data), commit('net', manifestOf(u8Tensor('a', data, 3))), chunkPut(bytes(9))]));
      sm.apply(entriesOf(4, 1, [{ op: 'paramInit', model: 'lin', sync: { mode: 'asp', workers: 1, staleness: 0 }, tensors: [{ name: 'w', shape: [1], data: f32(1) }], replace: false }]));
      const image = readAll(sm.openSnapshot(), 100);
      const { sm: other } = open();
      const w = other.beginRestore(meta(4, 1));
      w.write(image);
      w.finish();
      expect(observe(other)).toEqual(observe(sm));
      expect(other.readTable('chunks', sha(data))).toEqual(sm.readTable('chunks', sha(data)));
      expect(other.readTable('params', new TextEncoder().encode('lin'))).toEqual(sm.readTable('params', new TextEncoder().encode('lin')));
      // The restored refs still free the chunk exactly when its version goes.
      other.apply(entriesOf(5, 1, [{ op: 'deleteVersion', model: 'net', version: 1 }, { op: 'gcChunks', before: 6 }]));
      expect(other.readTable('chunks', sha(data))).toBeNull();
      expect(other.readTable('chunks', sha(bytes(9)))).toBeNull();
    });
  });

  describe('parameter server', () => {
    const params = (sm: ReturnType<OpenStateMachine>['sm'], model = 'lin') => decodeParamState(sm.readTable('params', new TextEncoder().encode(model))!);
    const init = (mode: 'bsp' | 'ssp' | 'asp', workers: number, staleness = 0): KvCommand => ({
      op: 'paramInit',
      model: 'lin',
      sync: { mode, workers, staleness },
      tensors: [{ name: 'w', shape: [2], data: f32(1, 2) }],
      replace: false,
    });
    const push = (worker: number, clock: number, lr: number, ...g: number[]): KvCommand => ({ op: 'paramPush', model: 'lin', worker, clock, lr, grads: [f32(...g)] });

    it('asp applies w -= lr * g at once, in float32', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [init('asp', 2), push(1, 0, 0.1, 1, 3), push(1, 1, 0.1, 1, 3)]));
      expect(r[0]).toEqual({ ok: true, revision: 1, step: 0 });
      expect(r[2]).toEqual({ ok: true, revision: 3, clock: 2, step: 2 });
      const lr = Math.fround(0.1);
      let w0 = Math.fround(1);
      let w1 = Math.fround(2);
      for (let i = 0; i < 2; i++) {
        w0 = Math.fround(w0 - Math.fround(lr * 1));
        w1 = Math.fround(w1 - Math.fround(lr * 3));
      }
      expect(fromF32(params(sm).tensors[0]!.data)).toEqual([w0, w1]);
      expect(params(sm).clocks).toEqual([0, 2]);
    });

    it('bsp holds a step until every worker pushed, then applies all pushes in worker order', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [init('bsp', 2), push(1, 0, 1, 0.5, 0.5), push(1, 1, 1, 9, 9), push(0, 0, 1, 0.25, 0.25)]));
      expect(r[1]).toEqual({ ok: true, revision: 2, clock: 1, step: 0 });
      expect(r[2]).toEqual({ ok: false, reason: 'param_wait', clock: 1, minClock: 0 });
      expect(r[3]).toEqual({ ok: true, revision: 4, clock: 1, step: 1 });
      expect(fromF32(params(sm).tensors[0]!.data)).toEqual([0.25, 1.25]);
      expect(params(sm).pending).toEqual([null, null]);
      expect(sm.apply(entriesOf(5, 1, [push(1, 1, 1, 0, 0)]))[0]).toEqual({ ok: true, revision: 5, clock: 2, step: 1 });
    });

    it('ssp lets a worker run at most `staleness` pushes ahead of the slowest', () => {
      const { sm } = open();
      const r = sm.apply(entriesOf(1, 1, [init('ssp', 2, 1), push(0, 0, 1, 0, 0), push(0, 1, 1, 0, 0), push(0, 2, 1, 0, 0), push(1, 0, 1, 0, 0), push(0, 2, 1, 0, 0)]));
      expect(r.slice(1).map((x) => (x as KvResult).ok)).toEqual([true, true, false, true, true]);
      expect(r[3]).toEqual({ ok: false, reason: 'param_wait', clock: 2, minClock: 0 });
      expect(params(sm).clocks).toEqual([3, 1]);
      expect(params(sm).step).toBe(4);
    });

    it('refuses pushes at the wrong clock, of the wrong shape, from unknown workers or to unknown models; init does not overwrite', () => {
      const { sm } = open();
      const r = sm.apply(
        entriesOf(1, 1, [
          init('asp', 1),
          push(0, 5, 1, 0, 0),
          { op: 'paramPush', model: 'lin', worker: 0, clock: 0, lr: 1, grads: [f32(1)] },
          push(3, 0, 1, 0, 0),
          { op: 'paramPush', model: 'nope', worker: 0, clock: 0, lr: 1, grads: [f32(1, 1)] },
          init('bsp', 4),
        ]),
      );
      expect(r.slice(1, 4).map((x) => (x as { reason?: string }).reason)).toEqual(['invalid', 'invalid', 'invalid']);
      expect(r[4]).toEqual({ ok: false, reason: 'not_found' });
      expect(r[5]).toEqual({ ok: false, reason: 'param_exists' });
      expect(params(sm).sync.mode).toBe('asp');
      expect(sm.apply(entriesOf(7, 1, [{ ...(init('bsp', 4) as object), replace: true } as KvCommand]))[0]).toEqual({ ok: true, revision: 7, step: 0 });
      expect(params(sm).sync).toEqual({ mode: 'bsp', workers: 4, staleness: 0 });
    });

    it('results do not depend on how entries are batched', () => {
      const cmds = [init('bsp', 2), push(0, 0, 0.5, 1, 2), put('k', 'v'), push(1, 0, 0.5, 3, 4), push(0, 1, 0.5, 1, 1)];
      const one = open().sm;
      const many = open().sm;
      const all = one.apply(entriesOf(1, 1, cmds));
      const split = cmds.flatMap((c, i) => many.apply(entriesOf(i + 1, 1, [c])));
      expect(split).toEqual(all);
      expect(many.readTable('params', new TextEncoder().encode('lin'))).toEqual(one.readTable('params', new TextEncoder().encode('lin')));
    });
  });
}
