/** Models in and out of files through a real cluster: safetensors (single and sharded) and TF.js. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import { exportSafetensors, importSafetensors, importTfjsWeights } from '../../src/tensor/model-files.ts';
import { openSafetensors } from '../../src/tensor/safetensors-reader.ts';
import { writeSafetensors } from '../../src/tensor/safetensors-writer.ts';
import type { Tensor } from '../../src/tensor/tensor.ts';
import { TensorStore } from '../../src/tensor/tensor-store.ts';
import { pattern } from './fixtures.ts';
import { startCluster, tempDir } from '../cluster/harness.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/tfjs');


const model: Record<string, Tensor> = {
  'encoder.weight': { dtype: 'F32', shape: [300, 1000], data: pattern(1_200_000, 1) },
  'encoder.bias': { dtype: 'F16', shape: [1000], data: pattern(2000, 2) },
  'head.weight': { dtype: 'BF16', shape: [10, 1000], data: pattern(20_000, 3) },
  steps: { dtype: 'I64', shape: [], data: pattern(8, 4) },
  mask: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
  empty: { dtype: 'F32', shape: [0], data: new Uint8Array(0) },
};

function expectSame(got: ReadonlyMap<string, Tensor>, want: Record<string, Tensor>): void {
  expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
  for (const [name, t] of Object.entries(want)) {
    const g = got.get(name)!;
    expect([g.dtype, g.shape]).toEqual([t.dtype, t.shape]);
    expect(Buffer.from(g.data).equals(Buffer.from(t.data)), name).toBe(true);
  }
}

describe('model files', () => {
  it('exports a version to safetensors and imports it back bit for bit, metadata included', async () => {
    const cluster = await startCluster();
    const store = new TensorStore(cluster.client());
    await store.save('src', model, { metadata: { format: 'pt', note: 'hello' } });
    const dir = tempDir();
    const file = path.join(dir, 'model.safetensors');
    let progress = 0;
    const out = await exportSafetensors(store, 'src', file, { onProgress: (d) => (progress = d) });
    expect(out.bytes).toBe(progress);
    const reader = await openSafetensors(file);
    expect(reader.header.metadata).toEqual({ format: 'pt', note: 'hello' });
    await reader.close();
    const saved = await importSafetensors(store, 'copy', file);
    expect(saved.version).toBe(1);
    // Same bytes, same content addresses: nothing new had to be sent.
    expect(saved.chunksWritten).toBe(0);
    const loaded = await store.load('copy');
    expectSame(loaded.tensors, model);
    expect(loaded.metadata).toEqual({ format: 'pt', note: 'hello' });
    // Exporting the re-import gives the same file, byte for byte.
    const again = path.join(dir, 'again.safetensors');
    await exportSafetensors(store, 'copy', again);
    expect(fs.readFileSync(again).equals(fs.readFileSync(file))).toBe(true);
  });

  it('keeps a "__proto__" metadata key, and refuses names UTF-8 cannot hold before anything is written', async () => {
    const cluster = await startCluster();
    const store = new TensorStore(cluster.client());
    const file = path.join(tempDir(), 'proto.safetensors');
    const tensor = { name: 'w', dtype: 'F32' as const, shape: [1], bytes: () => Promise.resolve(pattern(4, 1)) };
    await writeSafetensors(file, [tensor], JSON.parse('{"__proto__": "x", "ok": "y"}') as Record<string, string>);
    await importSafetensors(store, 'proto', file);
    const loaded = await store.load('proto');
    expect(Object.entries(loaded.metadata)).toEqual([['__proto__', 'x'], ['ok', 'y']]);
    // A lone surrogate: 'w\ud800' and 'w\udc00' would both be stored as 'w\ufffd'. This used
    // to pass the check on the names as given and stop every replica at the check on the stored ones.
    const t = { dtype: 'F32' as const, shape: [1], data: pattern(4, 2) };
    for (const bad of [{ 'w\ud800': t, 'w\udc00': t }, { 'w\ud800': t }] as Record<string, Tensor>[]) {
      await expect(store.save('sur', bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await expect(store.save('sur', { w: t }, { metadata: { 'k\ud800': 'a' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.save('sur', { w: t }, { metadata: { k: 'v\udc00' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Inputs of the wrong kind get the same typed error, not a TypeError.
    await expect(store.save('sur', null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.save('sur', { w: null } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.save('sur', { w: t }, { metadata: null as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await store.save('sur', { w: t })).version).toBe(1);
    for (const version of [0, -1, 1.5, Number.NaN, '1']) {
      await expect(store.load('sur', { version: version as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await expect(store.save('sur', { w: t }, { expectedHead: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.save('sur', { w: t }, { concurrency: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('exports and imports a sharded checkpoint (model-0000i-of-0000n + index)', async () => {
    const cluster = await startCluster();
    const store = new TensorStore(cluster.client());
    await store.save('src', model);
    const dir = path.join(tempDir(), 'sharded');
    fs.mkdirSync(dir);
    const out = await exportSafetensors(store, 'src', dir, { maxShardBytes: 1_000_000 });
    const names = out.files.map((f) => path.basename(f));
    const n = names.length - 1;
    expect(n).toBeGreaterThan(1);
    expect(names).toEqual([...Array.from({ length: n }, (_, i) => `model-0000${i + 1}-of-0000${n}.safetensors`), 'model.safetensors.index.json']);
    for (const f of out.files.slice(0, n)) {
      const r = await openSafetensors(f);
      const bytes = r.header.dataBytes;
      const tensors = r.header.tensors.length;
      await r.close();
      // A shard is over the bound only when one tensor alone is.
      expect(bytes <= 1_000_000 || tensors === 1).toBe(true);
    }
    await importSafetensors(store, 'from-dir', dir);
    expectSame((await store.load('from-dir')).tensors, model);
    await importSafetensors(store, 'from-index', path.join(dir, 'model.safetensors.index.json'));
    expectSame((await store.load('from-index')).tensors, model);
  });

  it('rejects a bad file with INVALID_FORMAT and makes no version visible', async () => {
    const cluster = await startCluster();
    const store = new TensorStore(cluster.client());
    const dir = tempDir();
    const good = path.join(dir, 'good.safetensors');
    await store.save('src', { w: model['encoder.bias']! });
    await exportSafetensors(store, 'src', good);
    const bytes = fs.readFileSync(good);
    const truncated = path.join(dir, 'truncated.safetensors');
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 1));
    const garbage = path.join(dir, 'garbage.safetensors');
    fs.writeFileSync(garbage, Buffer.from('this is not a safetensors file'));
    for (const f of [truncated, garbage]) {
      const e = await importSafetensors(store, 'bad', f).catch((err: unknown) => err);
      expect(isTesseraError(e, 'INVALID_FORMAT'), String(e)).toBe(true);
    }
    expect(await store.headVersion('bad')).toBe(0);
    expect(await store.versions('bad')).toEqual([]);
  });

  it('imports the TF.js fixture (uint8-quantized) and every tensor loads with the expected SHA-256', async () => {
    const cluster = await startCluster();
    const store = new TensorStore(cluster.client());
    const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'face_landmark_68_tiny_expected.json'), 'utf8')) as Record<string, { sha256: string; shape: number[] }>;
    await importTfjsWeights(store, 'face', path.join(FIXTURES, 'face_landmark_68_tiny_model-weights_manifest.json'));
    const loaded = await store.load('face');
    expect(loaded.tensors.size).toBe(28);
    for (const [name, want] of Object.entries(expected)) {
      const t = loaded.tensors.get(name)!;
      expect(t.shape).toEqual(want.shape);
      expect(createHash('sha256').update(t.data).digest('hex'), name).toBe(want.sha256);
    }
    expect(JSON.parse(loaded.metadata['tfjs.quantization.dense0/conv0/bias']!)).toMatchObject({ dtype: 'uint8' });
  });
});
