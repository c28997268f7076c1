/**
 * Framing of one WAL record: `[u32 payloadLength][u32 crc32c(length bytes)][u32 crc32c(payload)][payload]`,
 * little-endian. The length has its own checksum so that recovery can trust it before reading
 * the payload: with a valid header, a short payload at the end of the file is a write the crash
 * interrupted (never acknowledged, safe to cut off), while any checksum mismatch is corruption of
 * data that was, or may have been, acknowledged — the node must stop rather than serve it.
 */
import { TesseraError } from '../errors.ts';
import { crc32c } from '../util/crc32c.ts';

export const FRAME_HEADER_BYTES = 12;

export function frameRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32c(out.subarray(0, 4)), true);
  view.setUint32(8, crc32c(payload), true);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export interface ScannedFrames {
  /** Payloads of the intact records, in file order (views into the records, not copies). */
  readonly payloads: Uint8Array[];
  /** True if the last record was torn; the file's intact records are the first payloads.length. */
  readonly tornTail: boolean;
}

/** Checks every record's framing. Throws `CORRUPTION` naming the first bad record. */
export function scanFrames(records: readonly Uint8Array[]): ScannedFrames {
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const last = i === records.length - 1;
    if (r.length < FRAME_HEADER_BYTES) {
      if (last) return { payloads, tornTail: true };
      throw corruption(i, `${r.length}-byte record is shorter than its header and is not the last record`);
    }
    const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
    const length = view.getUint32(0, true);
    if (view.getUint32(4, true) !== crc32c(r.subarray(0, 4))) throw corruption(i, 'header checksum mismatch');
    const size = FRAME_HEADER_BYTES + length;
    if (r.length < size) {
      if (last) return { payloads, tornTail: true };
      throw corruption(i, `payload short (${r.length} of ${size} bytes) and not the last record`);
    }
    if (r.length > size) throw corruption(i, `${r.length - size} bytes beyond the framed payload`);
    const payload = r.subarray(FRAME_HEADER_BYTES);
    if (view.getUint32(8, true) !== crc32c(payload)) throw corruption(i, 'payload checksum mismatch');
    payloads.push(payload);
  }
  return { payloads, tornTail: false };
}

function corruption(record: number, why: string): TesseraError {
  return new TesseraError('CORRUPTION', `WAL record ${record}: ${why}`);
}
