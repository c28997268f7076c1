/**
 * Streamed safetensors reading: the header is read and validated whole (it is bounded), tensor
 * bytes are read on demand, in pieces, from an open FileHandle, so a file of any size is read in
 * bounded memory.
 *
 * Format: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`
 * (possibly padded with trailing spaces), then the data section; offsets are relative to its start.
 *
 * The validation is stricter than "parses": every check runs before `openSafetensors` returns,
 * so a caller either gets a file whose every tensor can be read as described, or a
 * TesseraError('INVALID_FORMAT') and nothing else. The tensors must tile the data section exactly
 * (no holes, no overlap, nothing after the last one) as the reference implementation requires: a
 * gap could hide data, an overlap would make two tensors alias. Duplicate keys are an error at
 * any depth, because JSON.parse keeps the last one silently and another reader may keep the
 * first: two readers must never see two different models in one file. Tensor entries may hold
 * exactly dtype, shape and data_offsets; an unknown field is rejected rather than ignored, since
 * ignoring could misread a format extension.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { TesseraError } from '../errors.ts';
import { MAX_SAFETENSORS_HEADER_BYTES } from '../limits.ts';
import { MAX_BYTES_PER_ELEMENT, bytesPerElement, isDtype } from './dtype.ts';
import type { Dtype, Tensor } from './tensor.ts';

export { MAX_SAFETENSORS_HEADER_BYTES };

/** Size of the header-length prefix. */
export const SAFETENSORS_PREFIX_BYTES = 8;
/** Default bound on one piece yielded while streaming a tensor. */
export const DEFAULT_MAX_PIECE_BYTES = 1024 * 1024;
/** The smallest allowed piece bound: one element of the widest dtype, so every piece holds whole elements. */
export const MIN_PIECE_BYTES = MAX_BYTES_PER_ELEMENT;
/** The reserved top-level key holding string metadata. */
export const METADATA_KEY = '__metadata__';

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Byte offsets relative to the start of the data section; end exclusive. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** In file order (by offset; empty tensors sharing an offset keep their order in the JSON). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute file offset of the data section (8 + header length). */
  readonly dataStart: number;
  /** Length of the data section. */
  readonly dataBytes: number;
}

/** A bounded piece of one tensor's bytes; `offset` is relative to the tensor's first byte. */
export interface SafetensorsPiece {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Total bytes of the tensor, so a consumer can preallocate or spot the last piece. */
  readonly byteLength: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

export interface SafetensorsReader extends AsyncIterable<SafetensorsPiece> {
  readonly path: string;
  readonly header: SafetensorsHeader;
  /** The tensor's header entry, or undefined if the file has no such tensor. */
  info(name: string): SafetensorsTensorInfo | undefined;
  /** One tensor's bytes (only those are read); NOT_FOUND if the file has no such tensor. */
  readTensor(name: string): Promise<Tensor>;
  /**
   * Every tensor (or those in `names`, still in file order), in pieces of at most
   * `maxPieceBytes`, each holding whole elements. An empty tensor yields one empty piece, so
   * every tensor is seen. Pieces are fresh buffers the consumer may keep.
   */
  pieces(options?: { maxPieceBytes?: number; names?: readonly string[] }): AsyncGenerator<SafetensorsPiece, void, undefined>;
  close(): Promise<void>;
}

function invalid(source: string, message: string): TesseraError {
  return new TesseraError('INVALID_FORMAT', `${source}: ${message}`);
}

/**
 * The keys of the top-level object of `text`, decoded, in source order; throws INVALID_FORMAT if
 * any object in the text repeats a key. `text` must already be valid JSON (JSON.parse accepted
 * it): this only tracks strings and nesting, which valid JSON makes unambiguous.
 */
export function topLevelKeysRejectingDuplicates(text: string, source = 'JSON'): string[] {
  const topKeys: string[] = [];
  // One key set per open object; null marks an open array.
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      open.push(new Set());
      expectKey = true;
      i++;
    } else if (c === 0x5b /* [ */) {
      open.push(null);
      expectKey = false;
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
      expectKey = false;
      i++;
    } else if (c === 0x2c /* , */) {
      expectKey = open[open.length - 1] instanceof Set;
      i++;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (let d = text.charCodeAt(j); d !== 0x22; d = text.charCodeAt(j)) {
        if (j >= text.length) throw invalid(source, 'unterminated string');
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else {
          j += 1;
        }
      }
      const keys = open[open.length - 1];
      if (expectKey && keys) {
        // Decoded, so "a" and "\u0061" count as the same key.
        const key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (keys.has(key)) throw invalid(source, `duplicate key ${JSON.stringify(key)}`);
        keys.add(key);
        if (open.length === 1) topKeys.push(key);
        expectKey = false;
      }
      i = j + 1;
    } else {
      i++;
    }
  }
  return topKeys;
}

// ignoreBOM keeps a byte-order mark in the text, where JSON.parse rejects it, instead of
// silently dropping it; fatal rejects invalid UTF-8 instead of substituting U+FFFD.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const TENSOR_FIELDS = new Set(['dtype', 'shape', 'data_offsets']);

function parseTensorEntry(name: string, raw: unknown, dataBytes: number, source: string): SafetensorsTensorInfo {
  const what = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(raw)) throw invalid(source, `${what} is not an object`);
  for (const field of Object.keys(raw)) {
    if (!TENSOR_FIELDS.has(field)) throw invalid(source, `${what} has an unknown field ${JSON.stringify(field)}`);
  }
  const { dtype, shape, data_offsets: offsets } = raw;
  if (!isDtype(dtype)) throw invalid(source, `${what} has an unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    throw invalid(source, `${what} has a shape that is not an array of non-negative integers: ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger)) {
    throw invalid(source, `${what} has data_offsets that are not two non-negative integers: ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw invalid(source, `${what} has data_offsets [${begin}, ${end}] with begin after end`);
  if (end > dataBytes) throw invalid(source, `${what} ends at ${end}, past the ${dataBytes}-byte data section (truncated file?)`);
  // The product is computed in a way that stays exact: a shape whose byte count is not a safe
  // integer cannot fit in a data section that is one.
  let expected = bytesPerElement(dtype);
  for (const d of shape as number[]) expected *= d;
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw invalid(source, `${what} is ${dtype} of shape [${shape.join(', ')}] but its data_offsets span ${end - begin} bytes`);
  }
  return Object.freeze({ name, dtype, shape: Object.freeze([...(shape as number[])]), begin, end });
}

function parseMetadata(raw: unknown, source: string): Readonly<Record<string, string>> {
  if (!isPlainObject(raw)) throw invalid(source, `${METADATA_KEY} is not an object`);
  const entries = Object.entries(raw);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw invalid(source, `${METADATA_KEY}[${JSON.stringify(key)}] is not a string`);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays data, not a prototype.
  return Object.freeze(Object.fromEntries(entries) as Record<string, string>);
}

/**
 * Validates a header. `headerBytes` are the N JSON bytes after the length prefix, `dataBytes`
 * the length of the data section that follows them.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataBytes: number, source = 'safetensors'): SafetensorsHeader {
  let text: string;
  try {
    text = utf8Decoder.decode(headerBytes);
  } catch {
    throw invalid(source, 'header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(source, `header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(parsed)) throw invalid(source, 'header is not a JSON object');
  // Source order, not Object.keys order (which moves integer-like names such as "0" first).
  const names = topLevelKeysRejectingDuplicates(text, source);

  let metadata: Readonly<Record<string, string>> = Object.freeze({});
  const tensors: SafetensorsTensorInfo[] = [];
  for (const name of names) {
    if (name === METADATA_KEY) metadata = parseMetadata(parsed[name], source);
    else tensors.push(parseTensorEntry(name, parsed[name], dataBytes, source));
  }

  // Array.prototype.sort is stable: empty tensors at one offset keep their JSON order.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    const what = `tensor ${JSON.stringify(t.name)} at [${t.begin}, ${t.end}]`;
    if (t.begin < cursor) throw invalid(source, `${what} overlaps the previous tensor, which ends at ${cursor}`);
    if (t.begin > cursor) throw invalid(source, `${what} leaves a hole of ${t.begin - cursor} bytes at ${cursor} in the data section`);
    cursor = t.end;
  }
  if (cursor !== dataBytes) {
    throw invalid(source, `the tensors cover ${cursor} bytes but the data section has ${dataBytes}: ${dataBytes - cursor} unaccounted bytes at the end`);
  }
  return Object.freeze({ tensors: Object.freeze(tensors), metadata, dataStart: SAFETENSORS_PREFIX_BYTES + headerBytes.length, dataBytes });
}

/** Reads exactly `into.length` bytes at `position`; a short read means the file shrank under us. */
async function readFully(handle: FileHandle, into: Uint8Array, position: number, source: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw invalid(source, `file ended at ${position + done} while reading ${into.length} bytes at ${position} (modified while open?)`);
    done += bytesRead;
  }
}

async function readHeader(handle: FileHandle, path: string): Promise<SafetensorsHeader> {
  const stat = await handle.stat();
  if (!stat.isFile()) throw invalid(path, 'not a regular file');
  const fileBytes = stat.size;
  if (fileBytes < SAFETENSORS_PREFIX_BYTES) throw invalid(path, `file has ${fileBytes} bytes, shorter than the 8-byte header length`);
  const prefix = new Uint8Array(SAFETENSORS_PREFIX_BYTES);
  await readFully(handle, prefix, 0, path);
  const declared = new DataView(prefix.buffer).getBigUint64(0, true);
  if (declared > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw invalid(path, `header length ${declared} exceeds the limit of ${MAX_SAFETENSORS_HEADER_BYTES} bytes`);
  }
  const headerLength = Number(declared);
  if (SAFETENSORS_PREFIX_BYTES + headerLength > fileBytes) {
    throw invalid(path, `header length ${headerLength} runs past the end of the ${fileBytes}-byte file`);
  }
  const headerBytes = new Uint8Array(headerLength);
  await readFully(handle, headerBytes, SAFETENSORS_PREFIX_BYTES, path);
  const dataStart = SAFETENSORS_PREFIX_BYTES + headerLength;
  return parseSafetensorsHeader(headerBytes, fileBytes - dataStart, path);
}

function checkMaxPieceBytes(maxPieceBytes: number): void {
  if (!Number.isSafeInteger(maxPieceBytes) || maxPieceBytes < MIN_PIECE_BYTES) {
    throw new TesseraError('INVALID_ARGUMENT', `maxPieceBytes must be an integer >= ${MIN_PIECE_BYTES}, got ${maxPieceBytes}`);
  }
}

class FileReader implements SafetensorsReader {
  private closed = false;
  private readonly byName: ReadonlyMap<string, SafetensorsTensorInfo>;

  constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
    private readonly handle: FileHandle,
    private readonly defaultMaxPieceBytes: number,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  info(name: string): SafetensorsTensorInfo | undefined {
    return this.byName.get(name);
  }

  private need(name: string): SafetensorsTensorInfo {
    const info = this.byName.get(name);
    if (!info) throw new TesseraError('NOT_FOUND', `${this.path}: no tensor ${JSON.stringify(name)}`);
    return info;
  }

  private async read(into: Uint8Array, position: number): Promise<void> {
    if (this.closed) throw new TesseraError('CLOSED', `${this.path}: reader is closed`);
    await readFully(this.handle, into, this.header.dataStart + position, this.path);
  }

  async readTensor(name: string): Promise<Tensor> {
    const info = this.need(name);
    const data = new Uint8Array(info.end - info.begin);
    await this.read(data, info.begin);
    return { dtype: info.dtype, shape: info.shape, data };
  }

  async *pieces(options: { maxPieceBytes?: number; names?: readonly string[] } = {}): AsyncGenerator<SafetensorsPiece, void, undefined> {
    const maxPieceBytes = options.maxPieceBytes ?? this.defaultMaxPieceBytes;
    checkMaxPieceBytes(maxPieceBytes);
    let selected = this.header.tensors;
    if (options.names) {
      const wanted = new Set(options.names);
      for (const name of wanted) this.need(name);
      selected = selected.filter((t) => wanted.has(t.name));
    }
    for (const t of selected) {
      const byteLength = t.end - t.begin;
      const element = bytesPerElement(t.dtype);
      const step = Math.floor(maxPieceBytes / element) * element;
      let offset = 0;
      do {
        const bytes = new Uint8Array(Math.min(step, byteLength - offset));
        await this.read(bytes, t.begin + offset);
        yield { name: t.name, dtype: t.dtype, shape: t.shape, byteLength, offset, bytes };
        offset += bytes.length;
      } while (offset < byteLength);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SafetensorsPiece> {
    return this.pieces();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/**
 * Opens and validates a safetensors file; only the header is read. The caller must `close()`
 * the reader. `maxPieceBytes` is the default bound for iteration.
 */
export async function openSafetensors(path: string, options: { maxPieceBytes?: number } = {}): Promise<SafetensorsReader> {
  const maxPieceBytes = options.maxPieceBytes ?? DEFAULT_MAX_PIECE_BYTES;
  checkMaxPieceBytes(maxPieceBytes);
  const handle = await open(path, 'r');
  try {
    const header = await readHeader(handle, path);
    return new FileReader(path, header, handle, maxPieceBytes);
  } catch (e) {
    await handle.close();
    throw e;
  }
}
