/**
 * The snapshot image format: a byte stream, so it can be produced and consumed in chunks of any
 * size without the whole state in memory.
 *
 *   "TKVI" u8(version)
 *   { u8(table tag, 1-based in KV_TABLES order) uvarint(keyLength) key uvarint(valueLength) value }*
 *   u8(0)                       end marker
 *   u32le(crc32c of every byte before it)
 *
 * Tables appear in KV_TABLES order, keys ascending within each: the image is a pure function of
 * the state, so replicas at the same applied index produce identical bytes (the simulator and
 * the memory/LMDB property test compare them).
 */
import { ByteWriter } from '../util/byte-codec.ts';
import { utf8 } from '../util/bytes.ts';
import { KV_TABLES, type KvTable } from './kv-backend.ts';

export const IMAGE_MAGIC = utf8('TKVI');
export const IMAGE_VERSION = 1;
export const IMAGE_END = 0;

export function tableTag(table: KvTable): number {
  return KV_TABLES.indexOf(table) + 1;
}

export function tableOfTag(tag: number): KvTable | undefined {
  return KV_TABLES[tag - 1];
}

export function encodeImageRecord(table: KvTable, key: Uint8Array, value: Uint8Array): Uint8Array {
  return new ByteWriter(key.length + value.length + 12).u8(tableTag(table)).bytes(key).bytes(value).finish();
}

export function imageHeader(): Uint8Array {
  return new ByteWriter(8).raw(IMAGE_MAGIC).u8(IMAGE_VERSION).finish();
}
