import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import { MAX_TFJS_MANIFEST_BYTES, MAX_TFJS_SHARDS_PER_GROUP, MAX_TFJS_TENSOR_BYTES } from '../../src/tensor/tfjs-limits.ts';
import { parseTfjsManifest, readTfjsManifest, storedByteLength } from '../../src/tensor/tfjs-manifest.ts';

type Json = unknown;

const weight = (extra: Record<string, Json> = {}): Record<string, Json> => ({ name: 'w', shape: [2], dtype: 'float32', ...extra });
const group = (weights: Json[], paths: Json = ['w.bin']): Record<string, Json> => ({ paths, weights });

function expectInvalid(json: Json, message: RegExp): void {
  let err: unknown;
  try {
    parseTfjsManifest(json, 'test.json');
  } catch (e) {
    err = e;
  }
  expect(isTesseraError(err, 'INVALID_FORMAT'), `expected INVALID_FORMAT for ${JSON.stringify(json)}, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(message);
}

describe('parseTfjsManifest: accepts', () => {
  it('a manifest array and a model.json, keeping order, shapes and quantization', () => {
    const groups = [
      group([
        weight({ name: 'a', shape: [], quantization: { dtype: 'uint8', scale: 0.5, min: -1, original_dtype: 'float32' } }),
        weight({ name: 'b', shape: [0, 3], dtype: 'int32', quantization: { dtype: 'uint16', scale: 2, min: 0 } }),
        weight({ name: 'c', shape: [2, 2], dtype: 'bool' }),
        weight({ name: 'd', shape: [3], quantization: { dtype: 'float16' }, group: 'model', futureField: 1 }),
      ]),
      group([], ['nested/dir/x.bin', './y.bin']),
    ];
    const parsed = parseTfjsManifest(groups, 'x');
    expect(parsed).toEqual([
      {
        paths: ['w.bin'],
        weights: [
          { name: 'a', shape: [], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1, original_dtype: 'float32' } },
          { name: 'b', shape: [0, 3], dtype: 'int32', quantization: { dtype: 'uint16', scale: 2, min: 0 } },
          { name: 'c', shape: [2, 2], dtype: 'bool' },
          { name: 'd', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
        ],
      },
      { paths: ['nested/dir/x.bin', './y.bin'], weights: [] },
    ]);
    expect(parseTfjsManifest({ format: 'graph-model', weightsManifest: groups }, 'model.json')).toEqual(parsed);
    expect(parsed[0]!.weights.map(storedByteLength)).toEqual([1, 0, 4, 6]);
    expect(parseTfjsManifest([], 'empty')).toEqual([]);
  });
});

describe('parseTfjsManifest: rejects with INVALID_FORMAT', () => {
  const cases: [string, Json, RegExp][] = [
    ['a scalar root', 42, /neither a weights manifest/],
    ['an object without weightsManifest', { modelTopology: {} }, /neither a weights manifest/],
    ['a non-array weightsManifest', { weightsManifest: {} }, /weightsManifest: must be an array/],
    ['a non-object group', [[]], /manifest\[0\]: must be an object/],
    ['a group without paths', [{ weights: [] }], /paths: must be an array/],
    ['a group with no paths', [group([], [])], /at least one shard/],
    ['a non-string path', [group([], [7])], /paths\[0\]: must be a string/],
    ['an empty path', [group([], [''])], /is empty/],
    ['an absolute path', [group([], ['/etc/passwd'])], /is absolute/],
    ['a leading ..', [group([], ['../w.bin'])], /'\.\.' component/],
    ['an inner ..', [group([], ['a/../../w.bin'])], /'\.\.' component/],
    ['a bare ..', [group([], ['..'])], /'\.\.' component/],
    ['an empty component', [group([], ['a//w.bin'])], /empty component/],
    ['a trailing slash', [group([], ['a/'])], /empty component/],
    ['a backslash', [group([], ['..\\w.bin'])], /backslash/],
    ['a drive letter', [group([], ['C:w.bin'])], /URL scheme or drive/],
    ['a URL', [group([], ['https://example.com/w.bin'])], /URL scheme or drive/],
    ['a NUL', [group([], ['w\0.bin'])], /NUL/],
    ['a path listed twice', [group([], ['w.bin']), group([], ['w.bin'])], /listed twice/],
    ['too many shards', [group([], Array.from({ length: MAX_TFJS_SHARDS_PER_GROUP + 1 }, (_, i) => `s${i}.bin`))], /more than 10000/],
    ['weights not an array', [{ paths: ['w.bin'], weights: {} }], /weights: must be an array/],
    ['a non-object weight', [group(['w'])], /weights\[0\]: must be an object/],
    ['a missing name', [group([{ shape: [1], dtype: 'float32' }])], /name: must be a non-empty string/],
    ['an empty name', [group([weight({ name: '' })])], /name: must be a non-empty string/],
    ['a numeric name', [group([weight({ name: 3 })])], /name: must be a non-empty string/],
    ['a duplicate name in a group', [group([weight(), weight()])], /duplicate weight name "w"/],
    ['a duplicate name across groups', [group([weight()]), group([weight()], ['v.bin'])], /manifest\[1\]\.weights\[0\]\.name: duplicate/],
    ['a string dtype', [group([weight({ dtype: 'string' })])], /dtype "string" is not supported/],
    ['a complex64 dtype', [group([weight({ dtype: 'complex64' })])], /dtype "complex64" is not supported/],
    ['an unknown dtype', [group([weight({ dtype: 'float64' })])], /unknown dtype "float64"/],
    ['a missing dtype', [group([{ name: 'w', shape: [1] }])], /dtype: must be a string/],
    ['a missing shape', [group([{ name: 'w', dtype: 'float32' }])], /shape: must be an array/],
    ['a negative dimension', [group([weight({ shape: [2, -1] })])], /shape\[1\]: must be a non-negative safe integer, got -1/],
    ['a fractional dimension', [group([weight({ shape: [1.5] })])], /shape\[0\]/],
    ['a string dimension', [group([weight({ shape: ['2'] })])], /shape\[0\]/],
    ['an unsafe dimension', [group([weight({ shape: [2 ** 53] })])], /shape\[0\]/],
    ['a tensor over the byte limit', [group([weight({ shape: [MAX_TFJS_TENSOR_BYTES / 4 + 1] })])], /exceeds 2147483648 bytes/],
    ['a product over the byte limit', [group([weight({ shape: [65536, 65536] })])], /exceeds/],
    ['a dimension after a zero that is not an integer', [group([weight({ shape: [0, -3] })])], /shape\[1\]/],
    ['a non-object quantization', [group([weight({ quantization: 'uint8' })])], /quantization: must be an object/],
    ['an unknown quantization dtype', [group([weight({ quantization: { dtype: 'int8', scale: 1, min: 0 } })])], /"uint8", "uint16" or "float16", got "int8"/],
    ['uint8 without scale', [group([weight({ quantization: { dtype: 'uint8', min: 0 } })])], /scale: must be a finite number/],
    ['uint8 without min', [group([weight({ quantization: { dtype: 'uint8', scale: 1 } })])], /min: must be a finite number/],
    ['uint16 with a NaN scale', [group([weight({ quantization: { dtype: 'uint16', scale: NaN, min: 0 } })])], /scale: must be a finite number/],
    ['uint8 with an infinite min', [group([weight({ quantization: { dtype: 'uint8', scale: 1, min: -Infinity } })])], /min: must be a finite number/],
    ['uint8 with a string scale', [group([weight({ quantization: { dtype: 'uint8', scale: '1', min: 0 } })])], /scale: must be a finite number/],
    ['uint8 into bool', [group([weight({ dtype: 'bool', quantization: { dtype: 'uint8', scale: 1, min: 0 } })])], /cannot decode into bool/],
    ['float16 into int32', [group([weight({ dtype: 'int32', quantization: { dtype: 'float16' } })])], /needs dtype float32/],
    ['float16 with scale and min', [group([weight({ quantization: { dtype: 'float16', scale: 1, min: 0 } })])], /takes no scale or min/],
    ['an original_dtype other than the dtype', [group([weight({ quantization: { dtype: 'float16', original_dtype: 'int32' } })])], /original_dtype: must equal/],
  ];
  for (const [what, json, message] of cases) {
    it(what, () => expectInvalid(json, message));
  }

  it('names the source file and the field', () => {
    expectInvalid([group([weight({ name: 'conv/w', shape: [-1] })])], /^INVALID_FORMAT: test\.json: manifest\[0\]\.weights\[0\] \("conv\/w"\)\.shape\[0\]/);
  });
});

describe('readTfjsManifest', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tfjs-manifest-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function expectFileInvalid(content: Uint8Array | string, message: RegExp): Promise<void> {
    const file = path.join(dir, 'm.json');
    fs.writeFileSync(file, content);
    const err = await readTfjsManifest(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTesseraError(err, 'INVALID_FORMAT'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
  }

  it('reads a file, tolerating a UTF-8 BOM', async () => {
    const file = path.join(dir, 'm.json');
    fs.writeFileSync(file, '\uFEFF' + JSON.stringify([group([weight()])]));
    expect(await readTfjsManifest(file)).toEqual([{ paths: ['w.bin'], weights: [{ name: 'w', shape: [2], dtype: 'float32' }] }]);
  });

  it('rejects invalid JSON', () => expectFileInvalid('[{"paths": [', /not valid JSON/));
  it('rejects invalid UTF-8', () => expectFileInvalid(Uint8Array.of(0x5b, 0xff, 0x5d), /not valid UTF-8/));

  it('rejects a file over the size limit without reading it', async () => {
    const file = path.join(dir, 'm.json');
    fs.writeFileSync(file, '[]');
    fs.truncateSync(file, MAX_TFJS_MANIFEST_BYTES + 1);
    const err = await readTfjsManifest(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTesseraError(err, 'INVALID_FORMAT')).toBe(true);
    expect((err as Error).message).toMatch(/more than 33554432/);
  });
});
