/**
 * Streamed safetensors export, atomic and in constant memory.
 *
 * Order (header and data alike): tensors sorted by element size, descending (8-byte dtypes,
 * then 4, 2, 1), then by name compared as UTF-8 bytes. Every tensor's byte length is a multiple
 * of its element size and the sizes fall through powers of two, so each tensor starts at an
 * offset that is a multiple of its own element size: all 8-byte tensors start 8-byte aligned,
 * and every tensor is naturally aligned, which lets a reader view it in place. Full 8-byte
 * alignment for every tensor would need padding, and the format forbids holes in the data.
 * The header JSON is padded with spaces to a multiple of 8 bytes, so the data section starts
 * 8-byte aligned in the file. The same tensors and metadata give the same bytes whatever order
 * they are passed in (metadata keys are sorted the same way, and `__metadata__` comes first).
 *
 * Bytes are pulled lazily, one tensor at a time, in pieces the caller produces; small pieces are
 * coalesced into one bounded write buffer. Each tensor must deliver exactly its byte length, or
 * the export stops with INVALID_ARGUMENT. The file is written to `path + '.tmp'`, fsynced, renamed
 * over `path`, and the directory fsynced: a crash leaves the old file or the new one at `path`,
 * never a part. (A failed export deletes the temp file; a crash may leave it behind, and the next
 * export to the same path overwrites it.)
 */
import type { FileHandle } from 'node:fs/promises';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TesseraError } from '../errors.ts';
import { MAX_SAFETENSORS_HEADER_BYTES } from '../limits.ts';
import { byteLength, bytesPerElement, elementCount, isDtype } from './dtype.ts';
import { METADATA_KEY, SAFETENSORS_PREFIX_BYTES, type SafetensorsTensorInfo } from './safetensors-reader.ts';
import type { Dtype } from './tensor.ts';

/** Bound on the buffer that coalesces small pieces into fewer writes. */
export const WRITE_BUFFER_BYTES = 1024 * 1024;
/** The header is padded so the data section starts at a multiple of this. */
export const SAFETENSORS_DATA_ALIGNMENT = 8;

/** One tensor's bytes: all at once, or as pieces (sync or async) in order. */
export type TensorBytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
/** A function is called only when the tensor's turn comes, so nothing is produced early. */
export type TensorBytesSource = TensorBytes | (() => TensorBytes | Promise<TensorBytes>);

export interface TensorDescriptor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
}

export interface SafetensorsWriteEntry extends TensorDescriptor {
  /** Little-endian element bytes, exactly byteLength(dtype, shape) in total. */
  readonly bytes: TensorBytesSource;
}

export interface SafetensorsLayout {
  /** The padded header JSON (N bytes; the file starts with N as u64 little-endian). */
  readonly headerBytes: Uint8Array;
  /** In header and data order, offsets relative to the data section. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly dataBytes: number;
  readonly fileBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `s`, refusing lone surrogates (which TextEncoder would turn into U+FFFD). */
function utf8Exactly(s: string, what: string): Uint8Array {
  const bytes = encoder.encode(s);
  if (decoder.decode(bytes) !== s) throw new TesseraError('INVALID_ARGUMENT', `${what} is not valid Unicode (lone surrogate)`);
  return bytes;
}

function compareUtf8(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * The export order: element size descending, then name as UTF-8 bytes. Shared with shard
 * planning so a sharded export lists tensors in the same order.
 */
export function sortForLayout<T extends TensorDescriptor>(tensors: readonly T[]): T[] {
  const keyed = tensors.map((t) => ({ t, size: bytesPerElement(t.dtype), name: utf8Exactly(t.name, `tensor name ${JSON.stringify(t.name)}`) }));
  keyed.sort((a, b) => b.size - a.size || compareUtf8(a.name, b.name));
  return keyed.map((k) => k.t);
}

function checkDescriptors(tensors: readonly TensorDescriptor[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (typeof t.name !== 'string') throw new TesseraError('INVALID_ARGUMENT', 'tensor name must be a string');
    if (t.name === METADATA_KEY) throw new TesseraError('INVALID_ARGUMENT', `${METADATA_KEY} is reserved and cannot name a tensor`);
    if (seen.has(t.name)) throw new TesseraError('INVALID_ARGUMENT', `duplicate tensor name ${JSON.stringify(t.name)}`);
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(t.name)} has unknown dtype ${JSON.stringify(t.dtype)}`);
    elementCount(t.shape);
  }
}

function metadataJson(metadata: Readonly<Record<string, string>>): string {
  const entries = Object.entries(metadata).map(([k, v]) => {
    if (typeof v !== 'string') throw new TesseraError('INVALID_ARGUMENT', `metadata value for ${JSON.stringify(k)} is not a string`);
    utf8Exactly(v, `metadata value for ${JSON.stringify(k)}`);
    return { k, key: utf8Exactly(k, `metadata key ${JSON.stringify(k)}`), v };
  });
  entries.sort((a, b) => compareUtf8(a.key, b.key));
  return `{${entries.map((e) => `${JSON.stringify(e.k)}:${JSON.stringify(e.v)}`).join(',')}}`;
}

/**
 * Where everything goes, without touching any bytes: the sorted tensors with their offsets and
 * the padded header. `writeSafetensors` writes exactly this.
 */
export function planSafetensorsLayout(tensors: readonly TensorDescriptor[], metadata?: Readonly<Record<string, string>>): SafetensorsLayout {
  checkDescriptors(tensors);
  const parts: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) parts.push(`${JSON.stringify(METADATA_KEY)}:${metadataJson(metadata)}`);
  const placed: SafetensorsTensorInfo[] = [];
  let offset = 0;
  for (const t of sortForLayout(tensors)) {
    const end = offset + byteLength(t.dtype, t.shape);
    if (!Number.isSafeInteger(end)) throw new TesseraError('INVALID_ARGUMENT', 'total tensor bytes exceed 2^53 - 1');
    const shape = Object.freeze([...t.shape]);
    placed.push(Object.freeze({ name: t.name, dtype: t.dtype, shape, begin: offset, end }));
    parts.push(`${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":[${shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = encoder.encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / SAFETENSORS_DATA_ALIGNMENT) * SAFETENSORS_DATA_ALIGNMENT;
  if (padded > MAX_SAFETENSORS_HEADER_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `safetensors header would be ${padded} bytes, over the limit of ${MAX_SAFETENSORS_HEADER_BYTES}`);
  }
  const headerBytes = new Uint8Array(padded).fill(0x20);
  headerBytes.set(json);
  return Object.freeze({
    headerBytes,
    tensors: Object.freeze(placed),
    dataBytes: offset,
    fileBytes: SAFETENSORS_PREFIX_BYTES + padded + offset,
  });
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Sequential writes through one bounded buffer: many small pieces become few syscalls. */
class BufferedFileWriter {
  private readonly buffer = new Uint8Array(WRITE_BUFFER_BYTES);
  private used = 0;
  /** File offset of buffer[0]. */
  private flushed = 0;

  constructor(private readonly handle: FileHandle) {}

  get position(): number {
    return this.flushed + this.used;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.used + bytes.length <= this.buffer.length) {
      this.buffer.set(bytes, this.used);
      this.used += bytes.length;
      if (this.used === this.buffer.length) await this.flush();
      return;
    }
    await this.flush();
    if (bytes.length >= this.buffer.length) {
      // Written straight away, before the producer is asked for more, so it may reuse its buffer.
      await writeFully(this.handle, bytes, this.flushed);
      this.flushed += bytes.length;
    } else {
      this.buffer.set(bytes);
      this.used = bytes.length;
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    await writeFully(this.handle, this.buffer.subarray(0, this.used), this.flushed);
    this.flushed += this.used;
    this.used = 0;
  }
}

/** fsync of a directory, so a rename in it survives a crash. */
async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` atomically and durably with what `write` puts into a fresh temp file
 * (`path + '.tmp'`): fsync, rename, fsync the directory. If `write` throws, the temp file is
 * deleted, `path` is untouched, and the error propagates.
 */
export async function replaceFileAtomically(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await write(handle);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  await rename(tmp, path);
  await fsyncDirectory(dirname(path));
}

function isAsyncIterable(v: object): v is AsyncIterable<unknown> {
  return Symbol.asyncIterator in v;
}

function isIterable(v: object): v is Iterable<unknown> {
  return Symbol.iterator in v;
}

async function* piecesOf(name: string, source: TensorBytesSource): AsyncGenerator<Uint8Array, void, undefined> {
  const produced: unknown = typeof source === 'function' ? await source() : source;
  if (produced instanceof Uint8Array) {
    yield produced;
    return;
  }
  if (typeof produced === 'object' && produced !== null && (isAsyncIterable(produced) || isIterable(produced))) {
    for await (const piece of produced) {
      if (!(piece instanceof Uint8Array)) throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(name)}: a piece is not a Uint8Array`);
      yield piece;
    }
    return;
  }
  throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(name)}: bytes must be a Uint8Array or an (async) iterable of them`);
}

/**
 * Writes a safetensors file at `path` (see the top of this file for the order and the
 * guarantees) and returns its layout.
 */
export async function writeSafetensors(
  path: string,
  entries: readonly SafetensorsWriteEntry[],
  metadata?: Readonly<Record<string, string>>,
): Promise<SafetensorsLayout> {
  const layout = planSafetensorsLayout(entries, metadata);
  const sources = new Map(entries.map((e) => [e.name, e.bytes]));
  await replaceFileAtomically(path, async (handle) => {
    const out = new BufferedFileWriter(handle);
    const prefix = new Uint8Array(SAFETENSORS_PREFIX_BYTES);
    new DataView(prefix.buffer).setBigUint64(0, BigInt(layout.headerBytes.length), true);
    await out.write(prefix);
    await out.write(layout.headerBytes);
    for (const t of layout.tensors) {
      const expected = t.end - t.begin;
      let received = 0;
      for await (const piece of piecesOf(t.name, sources.get(t.name)!)) {
        received += piece.length;
        if (received > expected) {
          throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(t.name)} produced more than its ${expected} bytes`);
        }
        await out.write(piece);
      }
      if (received !== expected) {
        throw new TesseraError('INVALID_ARGUMENT', `tensor ${JSON.stringify(t.name)} produced ${received} bytes, expected ${expected}`);
      }
    }
    await out.flush();
    if (out.position !== layout.fileBytes) {
      throw new TesseraError('INVARIANT', `wrote ${out.position} bytes, planned ${layout.fileBytes}`);
    }
  });
  return layout;
}
