/**
 * The safetensors writer: round trips through the reader for every dtype and edge shape, the
 * documented order and alignment, byte-stable output, lazy sources, and atomic failure.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DTYPES, bytesPerElement, fromTypedArray } from '../../src/tensor/dtype.ts';
import { openSafetensors } from '../../src/tensor/safetensors-reader.ts';
import { planSafetensorsLayout, writeSafetensors, type SafetensorsWriteEntry } from '../../src/tensor/safetensors-writer.ts';
import type { Dtype } from '../../src/tensor/tensor.ts';
import { concat, expectError, patternBytes, tempDir, u64le } from './fixtures.ts';

const entry = (name: string, dtype: Dtype, shape: number[], bytes: SafetensorsWriteEntry['bytes']): SafetensorsWriteEntry => ({ name, dtype, shape, bytes });
const filled = (name: string, dtype: Dtype, shape: number[], salt = 0): SafetensorsWriteEntry => {
  const n = shape.reduce((a, b) => a * b, 1) * bytesPerElement(dtype);
  return entry(name, dtype, shape, dtype === 'BOOL' ? patternBytes(n, salt).map((b) => b & 1) : patternBytes(n, salt));
};

async function readAll(file: string): Promise<Map<string, { dtype: Dtype; shape: readonly number[]; data: Uint8Array }>> {
  const reader = await openSafetensors(file);
  try {
    const out = new Map<string, { dtype: Dtype; shape: readonly number[]; data: Uint8Array }>();
    for (const t of reader.header.tensors) out.set(t.name, await reader.readTensor(t.name));
    return out;
  } finally {
    await reader.close();
  }
}

describe('round trips through the reader', () => {
  it('every dtype, empty tensors and a scalar', async () => {
    const file = path.join(tempDir(), 'all.safetensors');
    const entries = [
      ...DTYPES.map((d, i) => filled(`t.${d}`, d, [2, 3], i)),
      entry('empty', 'F32', [0], new Uint8Array(0)),
      entry('empty2d', 'I16', [2, 0], []),
      entry('scalar', 'F64', [], fromTypedArray('F64', [], [Math.PI]).data),
      entry('typed', 'BF16', [2], fromTypedArray('BF16', [2], [1, -3]).data),
    ];
    await writeSafetensors(file, entries);
    const back = await readAll(file);
    expect(back.size).toBe(entries.length);
    for (const e of entries) {
      const t = back.get(e.name)!;
      expect(t.dtype).toBe(e.dtype);
      expect(t.shape).toEqual(e.shape);
      const want = e.bytes instanceof Uint8Array ? e.bytes : new Uint8Array(0);
      expect(Buffer.from(t.data).equals(Buffer.from(want))).toBe(true);
    }
    expect([...back.get('typed')!.data]).toEqual([0x80, 0x3f, 0x40, 0xc0]);
  });

  it('a 5 MiB tensor streamed in and read back in 1 MiB pieces', async () => {
    const file = path.join(tempDir(), 'big.safetensors');
    const total = 5 * 1024 * 1024;
    const piece = 48 * 1024 + 4; // not a divisor of anything, to cross buffer boundaries
    async function* produce(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < total; at += piece) {
        const n = Math.min(piece, total - at);
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) out[i] = ((at + i) * 131 + ((at + i) >>> 10)) & 0xff;
        yield out;
      }
    }
    await writeSafetensors(file, [entry('big', 'F32', [total / 4], produce), filled('small', 'U8', [3])]);
    const reader = await openSafetensors(file);
    try {
      let expectedOffset = 0;
      let pieces = 0;
      for await (const p of reader.pieces({ names: ['big'] })) {
        expect(p.offset).toBe(expectedOffset);
        expect(p.bytes.length).toBeLessThanOrEqual(1024 * 1024);
        for (let i = 0; i < p.bytes.length; i += 4093) {
          const at = p.offset + i;
          if (p.bytes[i] !== ((at * 131 + (at >>> 10)) & 0xff)) expect.fail(`byte ${at} differs`);
        }
        expectedOffset += p.bytes.length;
        pieces++;
      }
      expect(expectedOffset).toBe(total);
      expect(pieces).toBe(5);
    } finally {
      await reader.close();
    }
  });

  it('metadata, including awkward keys', async () => {
    const file = path.join(tempDir(), 'meta.safetensors');
    const metadata = Object.fromEntries([
      ['format', 'pt'],
      ['__proto__', 'still data'],
      ['ünï', 'cødé "quoted"\n'],
    ]) as Record<string, string>;
    await writeSafetensors(file, [filled('a', 'U8', [1])], metadata);
    const reader = await openSafetensors(file);
    expect({ ...reader.header.metadata }).toEqual({ ...metadata });
    expect(Object.getPrototypeOf(reader.header.metadata)).toBe(Object.prototype);
    await reader.close();
  });

  it('no tensors at all', async () => {
    const file = path.join(tempDir(), 'none.safetensors');
    await writeSafetensors(file, []);
    expect([...fs.readFileSync(file)]).toEqual([...concat(u64le(8), new TextEncoder().encode('{}      '))]);
    expect((await readAll(file)).size).toBe(0);
  });
});

describe('layout', () => {
  it('matches hand-computed bytes: metadata first, element size descending, then name; header padded to 8', async () => {
    const file = path.join(tempDir(), 'exact.safetensors');
    await writeSafetensors(
      file,
      [entry('b', 'U8', [2], new Uint8Array([1, 2])), entry('a', 'U8', [1], new Uint8Array([3])), entry('w', 'F32', [1], new Uint8Array([0, 0, 0x80, 0x3f]))],
      { z: '1', m: '2' },
    );
    const json =
      '{"__metadata__":{"m":"2","z":"1"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"a":{"dtype":"U8","shape":[1],"data_offsets":[4,5]},"b":{"dtype":"U8","shape":[2],"data_offsets":[5,7]}}';
    const padding = (8 - (json.length % 8)) % 8;
    const expected = concat(u64le(json.length + padding), new TextEncoder().encode(json + ' '.repeat(padding)), new Uint8Array([0, 0, 0x80, 0x3f, 3, 1, 2]));
    expect([...fs.readFileSync(file)]).toEqual([...expected]);
  });

  it('starts the data section at a multiple of 8 and every tensor at a multiple of its element size', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...DTYPES), fc.array(fc.nat(3), { maxLength: 3 })), {
          selector: ([name]) => name,
          maxLength: 12,
        }),
        (specs) => {
          const layout = planSafetensorsLayout(specs.filter(([n]) => n !== '__metadata__').map(([name, dtype, shape]) => ({ name, dtype, shape })));
          if ((8 + layout.headerBytes.length) % 8 !== 0) return false;
          let sizes = Infinity;
          for (const t of layout.tensors) {
            const size = bytesPerElement(t.dtype);
            if (t.begin % size !== 0 || size > sizes) return false;
            sizes = size;
          }
          return true;
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('orders names by UTF-8 bytes, not UTF-16 code units', () => {
    // In UTF-16 U+1F600 comes first (its lead surrogate 0xD83D < 0xFF61); in UTF-8 U+FF61 does (EF < F0).
    const names = ['\u{1F600}', '\uFF61', 'a'];
    const layout = planSafetensorsLayout(names.map((name) => ({ name, dtype: 'U8' as const, shape: [0] })));
    expect(layout.tensors.map((t) => t.name)).toEqual(['a', '\uFF61', '\u{1F600}']);
  });

  it('is byte-for-byte stable whatever the input order (fixed-seed permutations)', async () => {
    const dir = tempDir();
    const entries = [filled('x', 'F64', [2]), filled('b', 'F16', [3]), filled('a', 'F16', [1]), filled('k', 'BOOL', [4]), filled('m', 'I32', [0]), filled('c', 'U64', [])];
    const metadata = { b: '2', a: '1' };
    const reference = path.join(dir, 'reference.safetensors');
    await writeSafetensors(reference, entries, metadata);
    const expected = fs.readFileSync(reference);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(entries, { minLength: entries.length }), async (shuffled) => {
        const file = path.join(dir, `run-${run++}.safetensors`);
        await writeSafetensors(file, shuffled, { a: '1', b: '2' });
        return fs.readFileSync(file).equals(expected);
      }),
      { seed: 42, numRuns: 20 },
    );
  });
});

describe('sources', () => {
  it('accepts a Uint8Array, a function, a promise, a sync iterable and an async generator', async () => {
    const file = path.join(tempDir(), 'sources.safetensors');
    const sync = [new Uint8Array([1]), new Uint8Array([2, 3])];
    async function* gen() {
      yield new Uint8Array([4]);
      yield new Uint8Array(0);
      yield new Uint8Array([5]);
    }
    await writeSafetensors(file, [
      entry('a', 'U8', [1], new Uint8Array([9])),
      entry('b', 'U8', [2], () => new Uint8Array([7, 8])),
      entry('c', 'U8', [1], async () => new Uint8Array([6])),
      entry('d', 'U8', [3], sync),
      entry('e', 'U8', [2], gen),
      entry('f', 'U8', [2], gen()),
    ]);
    const back = await readAll(file);
    expect(Object.fromEntries([...back].map(([n, t]) => [n, [...t.data]]))).toEqual({ a: [9], b: [7, 8], c: [6], d: [1, 2, 3], e: [4, 5], f: [4, 5] });
  });

  it('pulls one tensor at a time, in layout order', async () => {
    const file = path.join(tempDir(), 'lazy.safetensors');
    const log: string[] = [];
    const lazy = (name: string, n: number) =>
      entry(name, 'U8', [n], async function* () {
        log.push(`start ${name}`);
        yield new Uint8Array(n);
        log.push(`end ${name}`);
      });
    await writeSafetensors(file, [lazy('b', 2), lazy('a', 1), { ...lazy('w', 4), dtype: 'F32', shape: [1] }]);
    expect(log).toEqual(['start w', 'end w', 'start a', 'end a', 'start b', 'end b']);
  });
});

describe('failures leave nothing behind', () => {
  async function expectAborted(entries: SafetensorsWriteEntry[], code: 'INVALID_ARGUMENT', pattern: RegExp) {
    const dir = tempDir();
    const file = path.join(dir, 'model.safetensors');
    fs.writeFileSync(file, 'previous');
    await expectError(writeSafetensors(file, entries), code, pattern);
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    expect(fs.readFileSync(file, 'utf8')).toBe('previous');
  }

  it('a tensor that produces too few bytes', async () => {
    await expectAborted([entry('a', 'F32', [2], new Uint8Array(7))], 'INVALID_ARGUMENT', /"a" produced 7 bytes, expected 8/);
  });

  it('a tensor that produces too many bytes (stopped at the first extra piece)', async () => {
    let pulled = 0;
    function* endless() {
      for (;;) {
        pulled++;
        yield new Uint8Array(3);
      }
    }
    await expectAborted([entry('a', 'U8', [4], endless)], 'INVALID_ARGUMENT', /more than its 4 bytes/);
    expect(pulled).toBe(2);
  });

  it('a piece that is not bytes', async () => {
    await expectAborted([entry('a', 'U8', [1], [[1]] as unknown as Uint8Array[])], 'INVALID_ARGUMENT', /not a Uint8Array/);
  });

  it('a source that throws', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'model.safetensors');
    async function* failing() {
      yield new Uint8Array(2);
      throw new Error('disk on fire');
    }
    await expect(writeSafetensors(file, [entry('a', 'U8', [4], failing)])).rejects.toThrow('disk on fire');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('bad descriptors are rejected before anything is written', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.safetensors');
    await expectError(writeSafetensors(file, [filled('a', 'U8', [1]), filled('a', 'U8', [1])]), 'INVALID_ARGUMENT', /duplicate/);
    await expectError(writeSafetensors(file, [filled('__metadata__', 'U8', [1])]), 'INVALID_ARGUMENT', /reserved/);
    await expectError(writeSafetensors(file, [entry('a', 'F8' as Dtype, [1], new Uint8Array(1))]), 'INVALID_ARGUMENT', /dtype/);
    await expectError(writeSafetensors(file, [entry('a', 'U8', [-1], new Uint8Array(0))]), 'INVALID_ARGUMENT');
    await expectError(writeSafetensors(file, [entry('\ud800', 'U8', [0], new Uint8Array(0))]), 'INVALID_ARGUMENT', /lone surrogate/);
    await expectError(writeSafetensors(file, [], { n: 1 as unknown as string }), 'INVALID_ARGUMENT', /not a string/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
