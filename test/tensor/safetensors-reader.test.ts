/**
 * The safetensors reader on hand-built files: a valid file read whole and in pieces, and every
 * malformation rejected with INVALID_FORMAT before openSafetensors returns.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_SAFETENSORS_HEADER_BYTES, openSafetensors, topLevelKeysRejectingDuplicates } from '../../src/tensor/safetensors-reader.ts';
import { concat, expectError, expectErrorSync, safetensorsBytes, u64le, writeTemp } from './fixtures.ts';

const F32_ONE_TWO = new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);

/** Two tensors listed in the opposite order to their data, plus metadata, header padded with spaces. */
const VALID_HEADER =
  '{"__metadata__":{"format":"pt","note":"h\\u00e9"},' +
  '"u":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},' +
  '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
const VALID_DATA = concat(F32_ONE_TWO, new Uint8Array([7, 8, 9]));

describe('reading a valid file', () => {
  it('validates the header and lists tensors in file order', async () => {
    const reader = await openSafetensors(writeTemp(safetensorsBytes(VALID_HEADER, VALID_DATA, 5)));
    try {
      const { header } = reader;
      expect(header.tensors).toEqual([
        { name: 'w', dtype: 'F32', shape: [2], begin: 0, end: 8 },
        { name: 'u', dtype: 'U8', shape: [3], begin: 8, end: 11 },
      ]);
      expect(header.metadata).toEqual({ format: 'pt', note: 'hé' });
      expect(header.dataStart).toBe(8 + new TextEncoder().encode(VALID_HEADER).length + 5);
      expect(header.dataBytes).toBe(11);
      expect(reader.info('u')?.begin).toBe(8);
      expect(reader.info('nope')).toBeUndefined();

      const u = await reader.readTensor('u');
      expect(u).toEqual({ dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) });
      expect([...(await reader.readTensor('w')).data]).toEqual([...F32_ONE_TWO]);
      await expectError(reader.readTensor('nope'), 'NOT_FOUND');
    } finally {
      await reader.close();
    }
  });

  it('iterates pieces of whole elements, at most maxPieceBytes each', async () => {
    const reader = await openSafetensors(writeTemp(safetensorsBytes(VALID_HEADER, VALID_DATA)), { maxPieceBytes: 10 });
    try {
      const seen = [];
      for await (const p of reader) seen.push([p.name, p.offset, p.byteLength, [...p.bytes]]);
      // F32 pieces round down to 8 bytes (two elements); U8 fits in one piece.
      expect(seen).toEqual([
        ['w', 0, 8, [...F32_ONE_TWO]],
        ['u', 0, 3, [7, 8, 9]],
      ]);
      const small = [];
      for await (const p of reader.pieces({ maxPieceBytes: 8, names: ['u'] })) small.push([p.name, p.offset, p.bytes.length]);
      expect(small).toEqual([['u', 0, 3]]);
      const eight = [];
      for await (const p of reader.pieces({ maxPieceBytes: 9 })) eight.push(p.bytes.length);
      expect(eight).toEqual([8, 3]);
      await expectError(reader.pieces({ maxPieceBytes: 7 }).next(), 'INVALID_ARGUMENT');
      await expectError(reader.pieces({ names: ['nope'] }).next(), 'NOT_FOUND');
    } finally {
      await reader.close();
    }
  });

  it('yields one empty piece for an empty tensor and reads scalars', async () => {
    const header =
      '{"e":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"I16","shape":[],"data_offsets":[0,2]},' +
      '"z":{"dtype":"BOOL","shape":[0],"data_offsets":[2,2]}}';
    const reader = await openSafetensors(writeTemp(safetensorsBytes(header, new Uint8Array([0xff, 0x7f]))));
    try {
      const seen = [];
      for await (const p of reader) seen.push([p.name, p.bytes.length]);
      expect(seen).toEqual([
        ['e', 0],
        ['s', 2],
        ['z', 0],
      ]);
      expect((await reader.readTensor('s')).shape).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('keeps the JSON order of integer-like names (Object.keys would not)', async () => {
    const header = '{"10":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"2":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}';
    const reader = await openSafetensors(writeTemp(safetensorsBytes(header)));
    expect(reader.header.tensors.map((t) => t.name)).toEqual(['10', '2']);
    await reader.close();
  });

  it('treats a tensor named __proto__ as data', async () => {
    const header = '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    const reader = await openSafetensors(writeTemp(safetensorsBytes(header, new Uint8Array([42]))));
    expect(reader.header.tensors.map((t) => t.name)).toEqual(['__proto__']);
    expect([...(await reader.readTensor('__proto__')).data]).toEqual([42]);
    await reader.close();
  });

  it('accepts an empty model', async () => {
    const reader = await openSafetensors(writeTemp(safetensorsBytes('{}', undefined, 6)));
    expect(reader.header.tensors).toEqual([]);
    expect(reader.header.metadata).toEqual({});
    await reader.close();
  });

  it('refuses reads after close', async () => {
    const reader = await openSafetensors(writeTemp(safetensorsBytes(VALID_HEADER, VALID_DATA)));
    await reader.close();
    await reader.close();
    await expectError(reader.readTensor('w'), 'CLOSED');
  });

  it('rejects a maxPieceBytes below one element of the widest dtype', async () => {
    await expectError(openSafetensors(writeTemp(safetensorsBytes(VALID_HEADER, VALID_DATA)), { maxPieceBytes: 4 }), 'INVALID_ARGUMENT');
  });
});

const f32 = (name: string, begin: number, end: number, shape = [(end - begin) / 4]) =>
  `${JSON.stringify(name)}:{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;

/** [what, file bytes, message pattern]: each must be INVALID_FORMAT. */
const BAD: [string, Uint8Array, RegExp][] = [
  ['an empty file', new Uint8Array(0), /shorter than the 8-byte/],
  ['a 7-byte file', new Uint8Array(7), /shorter than the 8-byte/],
  ['a header length past the end of the file', concat(u64le(100), new TextEncoder().encode('{}')), /runs past the end/],
  ['a header length over the limit', concat(u64le(MAX_SAFETENSORS_HEADER_BYTES + 1), new Uint8Array(16)), /exceeds the limit/],
  ['a header length of 2^64 - 1', concat(u64le(2n ** 64n - 1n), new Uint8Array(16)), /exceeds the limit/],
  ['an empty header', safetensorsBytes(''), /not valid JSON/],
  ['invalid UTF-8', safetensorsBytes(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), /UTF-8/],
  ['a UTF-8 byte-order mark', safetensorsBytes('\ufeff{}'), /not valid JSON/],
  ['invalid JSON', safetensorsBytes('{"a":'), /not valid JSON/],
  ['a header that is an array', safetensorsBytes('[]'), /not a JSON object/],
  ['a header that is null', safetensorsBytes('null'), /not a JSON object/],
  ['a header that is a string', safetensorsBytes('"x"'), /not a JSON object/],
  ['a tensor entry that is not an object', safetensorsBytes('{"a":[1]}'), /"a" is not an object/],
  ['an unknown dtype', safetensorsBytes('{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /unknown dtype/],
  ['a lowercase dtype', safetensorsBytes('{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /unknown dtype/],
  ['a missing dtype', safetensorsBytes('{"a":{"shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /unknown dtype/],
  ['a shape that is not an array', safetensorsBytes('{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}', new Uint8Array(1)), /shape/],
  ['a negative dimension', safetensorsBytes('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'), /shape/],
  ['a fractional dimension', safetensorsBytes('{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', new Uint8Array(1)), /shape/],
  ['a string dimension', safetensorsBytes('{"a":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}', new Uint8Array(1)), /shape/],
  ['a dimension beyond 2^53', safetensorsBytes('{"a":{"dtype":"U8","shape":[9007199254740993,0],"data_offsets":[0,0]}}'), /shape/],
  ['data_offsets not an array', safetensorsBytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":0}}', new Uint8Array(1)), /data_offsets/],
  ['one data offset', safetensorsBytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', new Uint8Array(1)), /data_offsets/],
  ['three data offsets', safetensorsBytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}', new Uint8Array(1)), /data_offsets/],
  ['a negative offset', safetensorsBytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}', new Uint8Array(1)), /data_offsets/],
  ['a fractional offset', safetensorsBytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,0.5]}}', new Uint8Array(1)), /data_offsets/],
  ['begin after end', safetensorsBytes('{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}', new Uint8Array(1)), /begin after end/],
  ['truncated data', safetensorsBytes(`{${f32('a', 0, 8)}}`, new Uint8Array(6)), /past the 6-byte data section/],
  ['a byte length that does not match the shape', safetensorsBytes(`{${f32('a', 0, 8, [3])}}`, new Uint8Array(8)), /span 8 bytes/],
  ['a shape whose byte count overflows', safetensorsBytes('{"a":{"dtype":"F64","shape":[4503599627370496,4],"data_offsets":[0,0]}}'), /span 0 bytes/],
  ['overlapping tensors', safetensorsBytes(`{${f32('a', 0, 8)},${f32('b', 4, 12)}}`, new Uint8Array(12)), /overlaps/],
  ['a tensor repeating another range', safetensorsBytes(`{${f32('a', 0, 4)},${f32('b', 0, 4)}}`, new Uint8Array(4)), /overlaps/],
  ['an empty tensor inside another', safetensorsBytes(`{${f32('a', 0, 8)},${f32('b', 4, 4, [0])}}`, new Uint8Array(8)), /overlaps/],
  ['a hole between tensors', safetensorsBytes(`{${f32('a', 0, 4)},${f32('b', 8, 12)}}`, new Uint8Array(12)), /hole of 4 bytes at 4/],
  ['data that does not start at 0', safetensorsBytes(`{${f32('a', 4, 8)}}`, new Uint8Array(8)), /hole of 4 bytes at 0/],
  ['bytes after the last tensor', safetensorsBytes(`{${f32('a', 0, 4)}}`, new Uint8Array(5)), /1 unaccounted bytes/],
  ['data but no tensors', safetensorsBytes('{}', new Uint8Array(1)), /unaccounted/],
  ['a duplicate tensor name', safetensorsBytes(`{${f32('a', 0, 4)},${f32('a', 4, 8)}}`, new Uint8Array(8)), /duplicate key "a"/],
  ['a duplicate name spelled with an escape', safetensorsBytes(`{${f32('a', 0, 4)},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, new Uint8Array(8)), /duplicate key "a"/],
  ['a duplicate field in a tensor', safetensorsBytes('{"a":{"dtype":"F32","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /duplicate key "dtype"/],
  ['a duplicate metadata key', safetensorsBytes('{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key "k"/],
  ['two __metadata__ entries', safetensorsBytes('{"__metadata__":{},"__metadata__":{}}'), /duplicate key "__metadata__"/],
  ['an unknown field in a tensor', safetensorsBytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"crc":1}}', new Uint8Array(1)), /unknown field "crc"/],
  ['__metadata__ that is a string', safetensorsBytes('{"__metadata__":"x"}'), /__metadata__ is not an object/],
  ['__metadata__ that is null', safetensorsBytes('{"__metadata__":null}'), /__metadata__ is not an object/],
  ['__metadata__ that is an array', safetensorsBytes('{"__metadata__":["x"]}'), /__metadata__ is not an object/],
  ['a metadata value that is a number', safetensorsBytes('{"__metadata__":{"epoch":3}}'), /is not a string/],
  [
    'a tensor named __metadata__',
    safetensorsBytes('{"__metadata__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)),
    /__metadata__\["shape"\] is not a string/,
  ],
];

describe('rejecting malformed files with INVALID_FORMAT', () => {
  it.each(BAD)('%s', async (_, bytes, pattern) => {
    await expectError(openSafetensors(writeTemp(bytes)), 'INVALID_FORMAT', pattern);
  });

  it('rejects a directory', async () => {
    const dir = writeTemp(new Uint8Array(0)).replace(/[^/]+$/, '');
    await expectError(openSafetensors(dir), 'INVALID_FORMAT', /not a regular file/);
  });

  it.runIf(fs.existsSync('/proc/self/fd'))('closes the file when validation fails (Linux: no descriptor left open on it)', async () => {
    const file = writeTemp(safetensorsBytes('{"a":1}'));
    await expectError(openSafetensors(file), 'INVALID_FORMAT');
    const openOnFile = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });
    expect(openOnFile).toEqual([]);
  });
});

describe('the duplicate-key scanner', () => {
  it('returns top-level keys in source order and ignores keys of nested objects', () => {
    expect(topLevelKeysRejectingDuplicates('{"b":{"x":[{"y":1},"z"]},"a":"\\"}","c":[]}')).toEqual(['b', 'a', 'c']);
  });

  it('allows the same key in different objects', () => {
    expect(topLevelKeysRejectingDuplicates('{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}')).toEqual(['a', 'b', 'c']);
  });

  it('rejects duplicates at any depth', () => {
    expectErrorSync(() => topLevelKeysRejectingDuplicates('{"a":[{"k":1,"k":2}]}'), 'INVALID_FORMAT', /duplicate key "k"/);
  });

  it('does not mistake string values for keys', () => {
    expect(topLevelKeysRejectingDuplicates('{"a":"a","b":["a","a"]}')).toEqual(['a', 'b']);
  });
});
