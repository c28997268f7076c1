/** Sharded checkpoints: shard names, planning, the index file, and checking an index against its shards. */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SHARD_COUNT,
  SAFETENSORS_INDEX_FILE_NAME,
  indexForShards,
  parseSafetensorsIndex,
  parseShardFileName,
  planShards,
  readSafetensorsIndex,
  serializeSafetensorsIndex,
  shardFileName,
  writeSafetensorsIndex,
  writeShardedSafetensors,
} from '../../src/tensor/safetensors-index.ts';
import { openSafetensors } from '../../src/tensor/safetensors-reader.ts';
import { writeSafetensors, type SafetensorsWriteEntry } from '../../src/tensor/safetensors-writer.ts';
import type { Dtype } from '../../src/tensor/tensor.ts';
import { expectError, expectErrorSync, patternBytes, tempDir } from './fixtures.ts';

const desc = (name: string, dtype: Dtype, n: number) => ({ name, dtype, shape: [n] });

describe('shard file names', () => {
  it('are 1-based with five digits', () => {
    expect(shardFileName(1, 3)).toBe('model-00001-of-00003.safetensors');
    expect(shardFileName(12, 12, 'diffusion_pytorch_model')).toBe('diffusion_pytorch_model-00012-of-00012.safetensors');
    expect(shardFileName(MAX_SHARD_COUNT, MAX_SHARD_COUNT)).toBe('model-99999-of-99999.safetensors');
  });

  it.each([
    [0, 3],
    [4, 3],
    [1, 0],
    [1, MAX_SHARD_COUNT + 1],
    [1.5, 3],
  ])('rejects shard %d of %d', (shard, count) => {
    expectErrorSync(() => shardFileName(shard, count), 'INVALID_ARGUMENT');
  });

  it('rejects a prefix that is not a plain file name', () => {
    expectErrorSync(() => shardFileName(1, 1, '../model'), 'INVALID_ARGUMENT');
  });

  it('parse back', () => {
    expect(parseShardFileName('model-00002-of-00003.safetensors')).toEqual({ prefix: 'model', shard: 2, shardCount: 3 });
    expect(parseShardFileName('a-b-00001-of-00001.safetensors')).toEqual({ prefix: 'a-b', shard: 1, shardCount: 1 });
    for (const bad of ['model-00000-of-00003.safetensors', 'model-00004-of-00003.safetensors', 'model-1-of-3.safetensors', 'model.safetensors', '-00001-of-00001.safetensors']) {
      expect(parseShardFileName(bad)).toBeNull();
    }
  });
});

describe('planShards', () => {
  it('packs greedily in layout order without splitting tensors', () => {
    const plan = planShards([desc('small', 'U8', 10), desc('big', 'F32', 100), desc('mid', 'F32', 10), desc('e', 'U8', 0), desc('x', 'F64', 5)], 60);
    expect(plan).toEqual([
      { fileName: 'model-00001-of-00003.safetensors', tensors: ['x'], dataBytes: 40 },
      // Over the bound on its own: a shard of its own rather than a split.
      { fileName: 'model-00002-of-00003.safetensors', tensors: ['big'], dataBytes: 400 },
      { fileName: 'model-00003-of-00003.safetensors', tensors: ['mid', 'e', 'small'], dataBytes: 50 },
    ]);
  });

  it('fills a shard up to exactly the bound', () => {
    expect(planShards([desc('a', 'U8', 5), desc('b', 'U8', 5), desc('c', 'U8', 1)], 10).map((s) => s.tensors)).toEqual([['a', 'b'], ['c']]);
    expect(planShards([], 10)).toEqual([]);
  });

  it('does not depend on input order and never exceeds the bound except for a lone oversized tensor', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom<Dtype>('F64', 'F32', 'BF16', 'U8'), fc.nat(20)), { selector: ([n]) => n, maxLength: 15 }),
        fc.integer({ min: 1, max: 100 }),
        (specs, max) => {
          const tensors = specs.map(([n, d, k]) => desc(n, d, k));
          const plan = planShards(tensors, max);
          const reversed = planShards([...tensors].reverse(), max);
          if (JSON.stringify(plan) !== JSON.stringify(reversed)) return false;
          const names = plan.flatMap((s) => s.tensors);
          if (names.length !== tensors.length || new Set(names).size !== names.length) return false;
          return plan.every((s) => s.dataBytes <= max || s.tensors.length === 1);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('rejects bad bounds, duplicates and too many shards', () => {
    expectErrorSync(() => planShards([desc('a', 'U8', 1)], 0), 'INVALID_ARGUMENT');
    expectErrorSync(() => planShards([desc('a', 'U8', 1), desc('a', 'U8', 1)], 10), 'INVALID_ARGUMENT', /duplicate/);
    const many = Array.from({ length: MAX_SHARD_COUNT + 1 }, (_, i) => desc(`t${i}`, 'U8', 1));
    expectErrorSync(() => planShards(many, 1), 'INVALID_ARGUMENT', /more than 99999/);
  });
});

describe('the index file', () => {
  const VALID = '{"metadata":{"total_size":12},"weight_map":{"b":"model-00002-of-00002.safetensors","a":"model-00001-of-00002.safetensors"}}';

  it('parses, with the weight_map in name order', () => {
    const index = parseSafetensorsIndex(VALID);
    expect(index.metadata).toEqual({ total_size: 12 });
    expect([...index.weightMap]).toEqual([
      ['a', 'model-00001-of-00002.safetensors'],
      ['b', 'model-00002-of-00002.safetensors'],
    ]);
    expect(parseSafetensorsIndex('{"weight_map":{}}').metadata).toEqual({});
  });

  it.each([
    ['invalid JSON', '{', /not valid JSON/],
    ['not an object', '[]', /not a JSON object/],
    ['no weight_map', '{"metadata":{}}', /weight_map/],
    ['weight_map not an object', '{"weight_map":[]}', /weight_map/],
    ['metadata not an object', '{"metadata":1,"weight_map":{}}', /"metadata" is not an object/],
    ['a shard that is not a string', '{"weight_map":{"a":1}}', /not a plain file name/],
    ['an empty shard name', '{"weight_map":{"a":""}}', /not a plain file name/],
    ['a shard outside the directory', '{"weight_map":{"a":"../x.safetensors"}}', /not a plain file name/],
    ['a shard in a subdirectory', '{"weight_map":{"a":"sub/x.safetensors"}}', /not a plain file name/],
    ['a shard with a backslash', '{"weight_map":{"a":"sub\\\\x.safetensors"}}', /not a plain file name/],
    ['a tensor listed twice', '{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}', /duplicate key "a"/],
    ['an unknown top-level key', '{"weight_map":{},"extra":1}', /unknown top-level key/],
  ])('rejects %s', (_, text, pattern) => {
    expectErrorSync(() => parseSafetensorsIndex(text), 'INVALID_FORMAT', pattern);
  });

  it('serializes with sorted keys and two-space indent, and writes atomically', async () => {
    const index = indexForShards(planShards([desc('b', 'U8', 2), desc('10', 'U8', 1), desc('2', 'U8', 1)], 2), { format: 'pt' });
    const text = serializeSafetensorsIndex(index);
    expect(text).toBe(
      [
        '{',
        '  "metadata": {',
        '    "format": "pt",',
        '    "total_size": 4',
        '  },',
        '  "weight_map": {',
        '    "10": "model-00001-of-00002.safetensors",',
        '    "2": "model-00001-of-00002.safetensors",',
        '    "b": "model-00002-of-00002.safetensors"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const dir = tempDir();
    const file = path.join(dir, SAFETENSORS_INDEX_FILE_NAME);
    await writeSafetensorsIndex(file, index);
    expect(fs.readdirSync(dir)).toEqual([SAFETENSORS_INDEX_FILE_NAME]);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    const back = parseSafetensorsIndex(text);
    expect([...back.weightMap]).toEqual([...index.weightMap]);
    expect(back.metadata).toEqual(index.metadata);
  });

  it('refuses metadata JSON cannot hold', () => {
    expectErrorSync(() => serializeSafetensorsIndex({ metadata: { x: NaN }, weightMap: new Map() }), 'INVALID_ARGUMENT');
  });
});

describe('sharded export and checked import', () => {
  const entries: SafetensorsWriteEntry[] = [
    { name: 'layer.0.w', dtype: 'F32', shape: [4, 4], bytes: patternBytes(64, 1) },
    { name: 'layer.0.b', dtype: 'F32', shape: [4], bytes: patternBytes(16, 2) },
    { name: 'layer.1.w', dtype: 'BF16', shape: [4, 4], bytes: patternBytes(32, 3) },
    { name: 'steps', dtype: 'I64', shape: [], bytes: patternBytes(8, 4) },
    { name: 'mask', dtype: 'BOOL', shape: [3], bytes: new Uint8Array([1, 0, 1]) },
  ];

  async function exported(): Promise<string> {
    const dir = tempDir();
    await writeShardedSafetensors(dir, entries, { maxShardBytes: 64, metadata: { format: 'pt' } });
    return dir;
  }

  it('writes shards and an index that reads back and agrees', async () => {
    const dir = await exported();
    expect(fs.readdirSync(dir).sort()).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      SAFETENSORS_INDEX_FILE_NAME,
    ]);
    const { index, shards } = await readSafetensorsIndex(path.join(dir, SAFETENSORS_INDEX_FILE_NAME));
    expect(index.metadata).toEqual({ total_size: 64 + 16 + 32 + 8 + 3 });
    expect(Object.fromEntries(index.weightMap)).toEqual({
      steps: 'model-00001-of-00003.safetensors',
      'layer.0.b': 'model-00001-of-00003.safetensors',
      'layer.0.w': 'model-00002-of-00003.safetensors',
      'layer.1.w': 'model-00003-of-00003.safetensors',
      mask: 'model-00003-of-00003.safetensors',
    });
    expect(shards.get('model-00001-of-00003.safetensors')!.metadata).toEqual({ format: 'pt' });
    for (const e of entries) {
      const reader = await openSafetensors(path.join(dir, index.weightMap.get(e.name)!));
      expect(Buffer.from((await reader.readTensor(e.name)).data).equals(Buffer.from(e.bytes as Uint8Array))).toBe(true);
      await reader.close();
    }
  });

  function rewriteIndex(dir: string, edit: (weightMap: Record<string, string>) => void): string {
    const file = path.join(dir, SAFETENSORS_INDEX_FILE_NAME);
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { weight_map: Record<string, string> };
    edit(json.weight_map);
    fs.writeFileSync(file, JSON.stringify(json));
    return file;
  }

  it('rejects a weight_map naming a tensor missing from its shard', async () => {
    const dir = await exported();
    const file = rewriteIndex(dir, (m) => {
      m['ghost'] = 'model-00001-of-00003.safetensors';
    });
    await expectError(readSafetensorsIndex(file), 'INVALID_FORMAT', /tensor "ghost" in "model-00001-of-00003.safetensors", which does not hold it/);
  });

  it('rejects a weight_map putting a tensor in the wrong shard', async () => {
    const dir = await exported();
    const file = rewriteIndex(dir, (m) => {
      m['mask'] = 'model-00001-of-00003.safetensors';
    });
    await expectError(readSafetensorsIndex(file), 'INVALID_FORMAT', /"mask"/);
  });

  it('rejects a missing shard', async () => {
    const dir = await exported();
    fs.rmSync(path.join(dir, 'model-00002-of-00003.safetensors'));
    await expectError(readSafetensorsIndex(path.join(dir, SAFETENSORS_INDEX_FILE_NAME)), 'INVALID_FORMAT', /"model-00002-of-00003.safetensors" named by the weight_map is missing/);
  });

  it('rejects a shard holding a tensor the weight_map does not name', async () => {
    const dir = await exported();
    const file = rewriteIndex(dir, (m) => {
      delete m['layer.0.b'];
    });
    await expectError(readSafetensorsIndex(file), 'INVALID_FORMAT', /holds tensor "layer.0.b", which the weight_map does not assign/);
  });

  it('rejects a corrupt shard', async () => {
    const dir = await exported();
    const shard = path.join(dir, 'model-00003-of-00003.safetensors');
    fs.truncateSync(shard, fs.statSync(shard).size - 1);
    await expectError(readSafetensorsIndex(path.join(dir, SAFETENSORS_INDEX_FILE_NAME)), 'INVALID_FORMAT', /model-00003-of-00003/);
  });

  it('checks a hand-written index against a hand-written shard', async () => {
    const dir = tempDir();
    await writeSafetensors(path.join(dir, 'weights.safetensors'), [{ name: 'a', dtype: 'U8', shape: [1], bytes: new Uint8Array([1]) }]);
    const file = path.join(dir, 'custom.index.json');
    fs.writeFileSync(file, '{"weight_map":{"a":"weights.safetensors"}}');
    const { shards } = await readSafetensorsIndex(file);
    expect([...shards.keys()]).toEqual(['weights.safetensors']);
  });
});
