/**
 * CRC-32C (Castagnoli), the checksum of iSCSI, ext4 and etcd's WAL. Chosen over CRC-32 (IEEE)
 * for its better error detection on storage-sized blocks. Slicing-by-8 (eight tables, eight
 * bytes a step) because log entries carry megabyte tensor chunks and every write and read
 * checks them: it runs several times faster than the byte-at-a-time loop, with no dependency.
 */

/** The Castagnoli polynomial, bit-reversed (reflected input and output). */
const POLYNOMIAL = 0x82f63b78;

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n]! >>> 8) ^ t[t[(k - 1) * 256 + n]! & 0xff]!;
  }
  return t;
})();

/**
 * CRC-32C of `data`. Pass the result of a previous call as `previous` to continue it:
 * `crc32c(b, crc32c(a))` equals the CRC of `a` followed by `b` (the same convention as
 * `zlib.crc32`), so a record can be checksummed in pieces without concatenating them.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  const t = TABLES;
  let crc = ~previous >>> 0;
  let i = 0;
  const n = data.length;
  for (const end = n - (n % 8); i < end; i += 8) {
    const lo = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < n; i++) crc = t[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
