import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import type { Dtype, Tensor } from '../../src/tensor/tensor.ts';
import { importTfjs, type TfjsImportedTensor } from '../../src/tensor/tfjs-reader.ts';
import { exportTfjs, tfjsManifestFileName, tfjsShardFileName } from '../../src/tensor/tfjs-writer.ts';

const MIB = 1024 * 1024;

async function collect(manifestPath: string): Promise<TfjsImportedTensor[]> {
  const out: TfjsImportedTensor[] = [];
  for await (const t of importTfjs(manifestPath)) out.push(t);
  return out;
}

function u32le(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * words.length);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(4 * i, w >>> 0, true));
  return out;
}

function tensor(dtype: Dtype, shape: number[], data: Uint8Array): Tensor {
  return { dtype, shape, data };
}

describe('exportTfjs', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tfjs-writer-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function expectInvalidArgument(run: () => Promise<unknown>, message: RegExp): Promise<void> {
    const err = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTesseraError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
    // A rejected export writes nothing, not even temp files.
    expect(fs.readdirSync(dir)).toEqual([]);
  }

  it('round-trips F32 (NaN payloads, -0, infinities), I32 and BOOL bit-exactly', async () => {
    const f32 = u32le([0x7fc00001, 0xffa00000, 0x80000000, 0x7f800000, 0x3f800000, 0x00000001]);
    const i32 = u32le([0x80000000, 0x7fffffff, 0, 0xffffffff]);
    const tensors = new Map<string, Tensor>([
      ['layer/w', tensor('F32', [2, 3], f32)],
      ['layer/i', tensor('I32', [4], i32)],
      ['mask', tensor('BOOL', [3], Uint8Array.of(1, 0, 1))],
      ['scalar', tensor('F32', [], u32le([0x40490fdb]))],
      ['empty', tensor('I32', [3, 0], new Uint8Array(0))],
    ]);
    const result = await exportTfjs(dir, 'model', tensors);
    expect(result.manifestPath).toBe(path.join(dir, 'model-weights_manifest.json'));
    expect(result.shardPaths).toEqual([path.join(dir, 'model-group1-shard1of1.bin')]);
    const back = await collect(result.manifestPath);
    expect(back.map((t) => t.name)).toEqual([...tensors.keys()]);
    for (const t of back) {
      expect(t.tensor).toEqual(tensors.get(t.name));
      expect(t.quantization).toBeUndefined();
    }
  });

  it('writes a TF.js-shaped manifest and cuts the group every shardBytes bytes', async () => {
    const a = new Uint8Array(40).map((_, i) => i);
    const b = new Uint8Array(20).map((_, i) => 100 + i);
    const result = await exportTfjs(
      dir,
      'net',
      [
        ['a', tensor('F32', [10], a)],
        ['b', tensor('I32', [5], b)],
      ],
      { shardBytes: 16 },
    );
    const names = [1, 2, 3, 4].map((i) => `net-group1-shard${i}of4.bin`);
    expect(names).toEqual([0, 1, 2, 3].map((i) => tfjsShardFileName('net', i, 4)));
    expect(fs.readdirSync(dir).sort()).toEqual([...names, tfjsManifestFileName('net')].sort());
    expect(names.map((n) => fs.statSync(path.join(dir, n)).size)).toEqual([16, 16, 16, 12]);
    expect(Buffer.concat(names.map((n) => fs.readFileSync(path.join(dir, n))))).toEqual(Buffer.from([...a, ...b]));
    expect(JSON.parse(fs.readFileSync(result.manifestPath, 'utf8'))).toEqual([
      {
        paths: names,
        weights: [
          { name: 'a', shape: [10], dtype: 'float32' },
          { name: 'b', shape: [5], dtype: 'int32' },
        ],
      },
    ]);
    expect((await collect(result.manifestPath)).map((t) => t.tensor.data)).toEqual([a, b]);
  });

  it('writes one empty shard when there are no bytes', async () => {
    const result = await exportTfjs(dir, 'nothing', new Map());
    expect(fs.statSync(result.shardPaths[0]!).size).toBe(0);
    expect(await collect(result.manifestPath)).toEqual([]);
  });

  it('replaces an earlier export of the same name and leaves no temp files', async () => {
    await exportTfjs(dir, 'm', [['x', tensor('F32', [4], u32le([1, 2, 3, 4]))]], { shardBytes: 4 });
    const second = await exportTfjs(dir, 'm', [['y', tensor('BOOL', [2], Uint8Array.of(0, 1))]], { shardBytes: 4 });
    const back = await collect(second.manifestPath);
    expect(back.map((t) => [t.name, t.tensor.data])).toEqual([['y', Uint8Array.of(0, 1)]]);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('creates a missing directory', async () => {
    const nested = path.join(dir, 'a', 'b');
    const result = await exportTfjs(nested, 'm', [['x', tensor('I32', [1], u32le([5]))]]);
    expect((await collect(result.manifestPath))[0]!.tensor.data).toEqual(u32le([5]));
  });

  it('round-trips arbitrary tensors and shard sizes (property)', async () => {
    const dtypeArb = fc.constantFrom<Dtype>('F32', 'I32', 'BOOL');
    const tensorArb = dtypeArb.chain((dtype) =>
      fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
        const count = shape.reduce((a, b) => a * b, 1);
        const data =
          dtype === 'BOOL'
            ? fc.uint8Array({ min: 0, max: 1, minLength: count, maxLength: count })
            : fc.uint8Array({ minLength: 4 * count, maxLength: 4 * count });
        return data.map((d) => tensor(dtype, shape, d));
      }),
    );
    const inputArb = fc.record({
      tensors: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9/_]{0,8}$/), tensorArb), { maxLength: 6, selector: ([n]) => n }),
      shardBytes: fc.integer({ min: 1, max: 64 }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(inputArb, async ({ tensors, shardBytes }) => {
        const out = path.join(dir, `run${run++}`);
        const result = await exportTfjs(out, 'p', tensors, { shardBytes });
        const back = await collect(result.manifestPath);
        expect(back.map((t) => [t.name, t.tensor])).toEqual(tensors);
        const total = tensors.reduce((s, [, t]) => s + t.data.byteLength, 0);
        expect(result.shardPaths.length).toBe(Math.max(1, Math.ceil(total / shardBytes)));
      }),
      { seed: 7, numRuns: 60 },
    );
  });

  it('rejects dtypes TF.js weights cannot hold', async () => {
    for (const dtype of ['F16', 'F64', 'BF16', 'I64', 'U8', 'I8'] as const) {
      await expectInvalidArgument(() => exportTfjs(dir, 'm', [['t', tensor(dtype, [0], new Uint8Array(0))]]), new RegExp(`dtype ${dtype} cannot be exported`));
    }
  });

  it('rejects inconsistent tensors', async () => {
    await expectInvalidArgument(() => exportTfjs(dir, 'm', [['t', tensor('F32', [2], new Uint8Array(4))]]), /holds 4 bytes, shape and dtype need 8/);
    await expectInvalidArgument(() => exportTfjs(dir, 'm', [['t', tensor('F32', [-1], new Uint8Array(0))]]), /not a non-negative integer/);
    await expectInvalidArgument(() => exportTfjs(dir, 'm', [['t', tensor('BOOL', [2], Uint8Array.of(1, 2))]]), /BOOL data must be 0 or 1/);
    await expectInvalidArgument(
      () =>
        exportTfjs(dir, 'm', [
          ['t', tensor('I32', [0], new Uint8Array(0))],
          ['t', tensor('I32', [0], new Uint8Array(0))],
        ]),
      /duplicate name/,
    );
    await expectInvalidArgument(() => exportTfjs(dir, 'm', [['', tensor('I32', [0], new Uint8Array(0))]]), /non-empty/);
  });

  it('rejects bad base names and shard sizes', async () => {
    const one: [string, Tensor][] = [['t', tensor('I32', [1], new Uint8Array(4))]];
    for (const baseName of ['', '.', '..', 'a/b', 'a\\b', 'C:m', 'm\0']) {
      await expectInvalidArgument(() => exportTfjs(dir, baseName, one), /baseName/);
    }
    for (const shardBytes of [0, -1, 1.5, NaN, 2 ** 41]) {
      await expectInvalidArgument(() => exportTfjs(dir, 'm', one, { shardBytes }), /shardBytes must be/);
    }
    await expectInvalidArgument(() => exportTfjs(dir, 'm', [['t', tensor('BOOL', [10_001], new Uint8Array(10_001))]], { shardBytes: 1 }), /10001 shards/);
  });

  it('defaults to 4 MiB shards', async () => {
    const big = new Uint8Array(4 * MIB + 8);
    const result = await exportTfjs(dir, 'big', [['t', tensor('F32', [MIB + 2], big)]]);
    expect(result.shardPaths.map((p) => fs.statSync(p).size)).toEqual([4 * MIB, 8]);
  });
});
