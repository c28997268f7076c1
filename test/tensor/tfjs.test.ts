import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import { importTfjs, type TfjsImportedTensor } from '../../src/tensor/tfjs-reader.ts';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const FIXTURES = path.resolve(REPO_ROOT, '../shared/fixtures/tfjs');
const MANIFEST = path.join(FIXTURES, 'face_landmark_68_tiny_model-weights_manifest.json');
const SHARD = path.join(FIXTURES, 'face_landmark_68_tiny_model.bin');
const EXPECTED = path.join(FIXTURES, 'face_landmark_68_tiny_expected.json');
const FIXTURE_TENSORS = 28;
const SUM_RELATIVE_TOLERANCE = 1e-6;

interface Expected {
  readonly dtype: string;
  readonly sha256: string;
  readonly shape: readonly number[];
  readonly sum: number;
}

async function collect(manifestPath: string): Promise<TfjsImportedTensor[]> {
  const out: TfjsImportedTensor[] = [];
  for await (const t of importTfjs(manifestPath)) out.push(t);
  return out;
}

async function expectFormatError(run: () => Promise<unknown>, message: RegExp): Promise<void> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTesseraError(err, 'INVALID_FORMAT'), `expected INVALID_FORMAT, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(message);
}

function f32le(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return out;
}

function u16le(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(2 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(2 * i, v, true));
  return out;
}

function i32le(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setInt32(4 * i, v, true));
  return out;
}

function f32Bits(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Array.from({ length: data.byteLength / 4 }, (_, i) => view.getUint32(4 * i, true));
}

function f32Values(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return Array.from({ length: data.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

describe('importTfjs: face_landmark_68_tiny fixture', () => {
  it('reproduces every tensor (SHA-256, shape, dtype, sum) in manifest order', async () => {
    const expected = JSON.parse(fs.readFileSync(EXPECTED, 'utf8')) as Record<string, Expected>;
    const rawManifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as { weights: { name: string; quantization: unknown }[] }[];
    const manifestOrder = rawManifest.flatMap((g) => g.weights.map((w) => w.name));

    const tensors = await collect(MANIFEST);
    expect(tensors.length).toBe(FIXTURE_TENSORS);
    expect(Object.keys(expected).length).toBe(FIXTURE_TENSORS);
    expect(tensors.map((t) => t.name)).toEqual(manifestOrder);

    for (const { name, tensor, quantization } of tensors) {
      const e = expected[name];
      expect(e, name).toBeDefined();
      expect(e!.dtype).toBe('float32');
      expect(tensor.dtype, name).toBe('F32');
      expect(tensor.shape, name).toEqual(e!.shape);
      expect(createHash('sha256').update(tensor.data).digest('hex'), name).toBe(e!.sha256);
      const sum = f32Values(tensor.data).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - e!.sum), name).toBeLessThanOrEqual(SUM_RELATIVE_TOLERANCE * Math.abs(e!.sum));
      // The quantization is handed through untouched, for callers to keep as metadata.
      expect(quantization, name).toEqual(rawManifest[0]!.weights.find((w) => w.name === name)!.quantization);
      expect(quantization?.dtype).toBe('uint8');
    }
  });
});

describe('importTfjs: layouts and dequantization', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tfjs-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writeFiles(files: Record<string, Uint8Array | string>): void {
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
  }

  function writeManifest(manifest: unknown, name = 'm-weights_manifest.json'): string {
    writeFiles({ [name]: JSON.stringify(manifest) });
    return path.join(dir, name);
  }

  it('reads a model.json whose weightsManifest holds the manifest', async () => {
    fs.copyFileSync(SHARD, path.join(dir, 'face_landmark_68_tiny_model.bin'));
    const weightsManifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')) as unknown;
    const modelJson = writeManifest({ format: 'layers-model', modelTopology: {}, weightsManifest }, 'model.json');
    // Compared through digests: element-wise toEqual on 300 KB of typed arrays is needlessly slow.
    const digest = (ts: readonly TfjsImportedTensor[]) =>
      ts.map((t) => [t.name, t.tensor.dtype, t.tensor.shape, createHash('sha256').update(t.tensor.data).digest('hex'), t.quantization]);
    const fromModel = await collect(modelJson);
    expect(fromModel.length).toBe(FIXTURE_TENSORS);
    expect(digest(fromModel)).toEqual(digest(await collect(MANIFEST)));
  });

  it('concatenates shards and lays weights back to back, across shard boundaries and groups', async () => {
    const a = f32le([1.5, -2, 3.25]); // 12 bytes
    const b = i32le([7, -8]); // 8 bytes
    const c = Uint8Array.of(0, 1, 1); // bool, 3 bytes
    const group0 = new Uint8Array([...a, ...b, ...c]);
    // Cut at 5 and 14: inside a, and inside b.
    writeFiles({
      'shards/g0-1.bin': group0.subarray(0, 5),
      'shards/g0-2.bin': group0.subarray(5, 14),
      'shards/g0-3.bin': group0.subarray(14),
      'g1.bin': f32le([42]),
    });
    const manifest = writeManifest([
      {
        paths: ['shards/g0-1.bin', 'shards/g0-2.bin', './shards/g0-3.bin'],
        weights: [
          { name: 'a', shape: [3], dtype: 'float32' },
          { name: 'b', shape: [2, 1], dtype: 'int32' },
          { name: 'c', shape: [3], dtype: 'bool' },
        ],
      },
      { paths: ['g1.bin'], weights: [{ name: 'd', shape: [], dtype: 'float32' }] },
    ]);
    const tensors = await collect(manifest);
    expect(tensors.map((t) => [t.name, t.tensor.dtype, t.tensor.shape])).toEqual([
      ['a', 'F32', [3]],
      ['b', 'I32', [2, 1]],
      ['c', 'BOOL', [3]],
      ['d', 'F32', []],
    ]);
    expect(tensors[0]!.tensor.data).toEqual(a);
    expect(tensors[1]!.tensor.data).toEqual(b);
    expect(tensors[2]!.tensor.data).toEqual(c);
    expect(f32Values(tensors[3]!.tensor.data)).toEqual([42]);
    expect(tensors.every((t) => t.quantization === undefined)).toBe(true);
  });

  it('reads empty tensors and empty shards', async () => {
    writeFiles({ 'e1.bin': new Uint8Array(0), 'e2.bin': f32le([5]) });
    const manifest = writeManifest([
      {
        paths: ['e1.bin', 'e2.bin'],
        weights: [
          { name: 'empty', shape: [0, 3], dtype: 'float32' },
          { name: 'one', shape: [1], dtype: 'float32' },
        ],
      },
    ]);
    const tensors = await collect(manifest);
    expect(tensors[0]!.tensor.data.byteLength).toBe(0);
    expect(f32Values(tensors[1]!.tensor.data)).toEqual([5]);
  });

  it('dequantizes uint8 and uint16 as fround(q * scale + min) in double precision', async () => {
    const scale = 0.1;
    const min = -1.7;
    writeFiles({ 'q.bin': new Uint8Array([0, 1, 17, 255, ...u16le([0, 300, 65535])]) });
    const manifest = writeManifest([
      {
        paths: ['q.bin'],
        weights: [
          { name: 'u8', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale, min } },
          { name: 'u16', shape: [3], dtype: 'float32', quantization: { dtype: 'uint16', scale, min, original_dtype: 'float32' } },
        ],
      },
    ]);
    const [u8, u16] = await collect(manifest);
    expect(f32Values(u8!.tensor.data)).toEqual([0, 1, 17, 255].map((q) => Math.fround(q * scale + min)));
    expect(f32Values(u16!.tensor.data)).toEqual([0, 300, 65535].map((q) => Math.fround(q * scale + min)));
    expect(u16!.quantization).toEqual({ dtype: 'uint16', scale, min, original_dtype: 'float32' });
  });

  it('dequantizes into int32 with Math.round, as TF.js does', async () => {
    writeFiles({ 'q.bin': Uint8Array.of(0, 1, 2, 3) });
    const manifest = writeManifest([
      { paths: ['q.bin'], weights: [{ name: 'i', shape: [4], dtype: 'int32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } }] },
    ]);
    const [t] = await collect(manifest);
    expect(t!.tensor.dtype).toBe('I32');
    expect(t!.tensor.data).toEqual(i32le([-1, Math.round(-0.5), 0, Math.round(0.5)]));
  });

  it('rejects int32 dequantization outside the int32 range', async () => {
    writeFiles({ 'q.bin': Uint8Array.of(0, 255) });
    const manifest = writeManifest([
      { paths: ['q.bin'], weights: [{ name: 'big', shape: [2], dtype: 'int32', quantization: { dtype: 'uint8', scale: 2 ** 30, min: 0 } }] },
    ]);
    await expectFormatError(() => collect(manifest), /big.*outside int32/);
  });

  it('decodes float16 exactly, bit for bit', async () => {
    const halves = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x83ff, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0xfd55];
    const floatBits = [0x3f800000, 0xc0000000, 0x477fe000, 0x33800000, 0xb87fc000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc02000, 0xffaaa000];
    writeFiles({ 'h.bin': u16le(halves) });
    const manifest = writeManifest([
      { paths: ['h.bin'], weights: [{ name: 'h', shape: [2, 5], dtype: 'float32', quantization: { dtype: 'float16' } }] },
    ]);
    const [t] = await collect(manifest);
    expect(t!.tensor.dtype).toBe('F32');
    expect(f32Bits(t!.tensor.data)).toEqual(floatBits);
    expect(t!.quantization).toEqual({ dtype: 'float16' });
  });

  it('reads any nonzero bool byte as true (1)', async () => {
    writeFiles({ 'b.bin': Uint8Array.of(0, 1, 2, 255) });
    const manifest = writeManifest([{ paths: ['b.bin'], weights: [{ name: 'b', shape: [4], dtype: 'bool' }] }]);
    const [t] = await collect(manifest);
    expect(t!.tensor.data).toEqual(Uint8Array.of(0, 1, 1, 1));
  });

  it('rejects a missing shard file, naming it, before yielding anything', async () => {
    writeFiles({ 'g0.bin': f32le([1]) });
    const manifest = writeManifest([
      { paths: ['g0.bin'], weights: [{ name: 'ok', shape: [1], dtype: 'float32' }] },
      { paths: ['missing.bin'], weights: [{ name: 'lost', shape: [1], dtype: 'float32' }] },
    ]);
    const seen: string[] = [];
    await expectFormatError(async () => {
      for await (const t of importTfjs(manifest)) seen.push(t.name);
    }, /missing\.bin is missing/);
    expect(seen).toEqual([]);
  });

  it('rejects a shard path that is a directory', async () => {
    fs.mkdirSync(path.join(dir, 'adir.bin'));
    const manifest = writeManifest([{ paths: ['adir.bin'], weights: [] }]);
    await expectFormatError(() => collect(manifest), /adir\.bin is not a regular file/);
  });

  it('rejects a truncated fixture shard, naming the weight that does not fit', async () => {
    const bytes = fs.readFileSync(SHARD);
    fs.writeFileSync(path.join(dir, 'face_landmark_68_tiny_model.bin'), bytes.subarray(0, bytes.length - 1));
    const manifest = path.join(dir, 'm-weights_manifest.json');
    fs.copyFileSync(MANIFEST, manifest);
    await expectFormatError(() => collect(manifest), /weight fc\/bias needs bytes \[\d+, 77224\).*hold only 77223 bytes/);
  });

  it('rejects trailing bytes after the last weight', async () => {
    const bytes = fs.readFileSync(SHARD);
    fs.writeFileSync(path.join(dir, 'face_landmark_68_tiny_model.bin'), Buffer.concat([bytes, Buffer.of(0)]));
    const manifest = path.join(dir, 'm-weights_manifest.json');
    fs.copyFileSync(MANIFEST, manifest);
    await expectFormatError(() => collect(manifest), /face_landmark_68_tiny_model\.bin hold 77225 bytes but the weights need 77224: 1 trailing/);
  });

  it('rejects a group whose shards hold bytes for no weight', async () => {
    writeFiles({ 'x.bin': Uint8Array.of(1, 2, 3) });
    const manifest = writeManifest([{ paths: ['x.bin'], weights: [] }]);
    await expectFormatError(() => collect(manifest), /3 trailing bytes/);
  });

  it('rejects a bad manifest with a typed error before touching shards', async () => {
    const manifest = writeManifest([{ paths: ['../escape.bin'], weights: [] }]);
    await expectFormatError(() => collect(manifest), /'\.\.' component/);
  });

  it('stops cleanly when the consumer breaks early', async () => {
    writeFiles({ 'g.bin': f32le([1, 2]) });
    const manifest = writeManifest([
      {
        paths: ['g.bin'],
        weights: [
          { name: 'x', shape: [1], dtype: 'float32' },
          { name: 'y', shape: [1], dtype: 'float32' },
        ],
      },
    ]);
    const seen: string[] = [];
    for await (const t of importTfjs(manifest)) {
      seen.push(t.name);
      break;
    }
    expect(seen).toEqual(['x']);
    // The shard was closed: removing the directory (afterEach) and re-reading both work.
    expect((await collect(manifest)).map((t) => t.name)).toEqual(['x', 'y']);
  });
});
