/**
 * The model commands of the state machine: content-addressed chunk writes, version commits and
 * deletes, chunk garbage collection, and the parameter server's init and push. Their bodies are
 * encoded here; kv-command.ts frames them (op tag, session) like every other command.
 */
import { TesseraError } from '../errors.ts';
import { MAX_ENTRY_BYTES } from '../limits.ts';
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { CHUNK_HASH_BYTES, MAX_CHUNK_BYTES, MAX_PARAM_VALUES, MAX_PARAM_WORKERS } from './model-limits.ts';
import { elementCount, readManifest, validateChunkHash, validateManifest, writeManifest, type ModelManifest } from './model-manifest.ts';
import { validateModelName, validateVersion } from './model-keys.ts';

export type ParamSyncMode = 'bsp' | 'ssp' | 'asp';

/**
 * How pushes of several workers combine. bsp: a step's pushes are held until every worker has
 * pushed for it, then applied together in worker order. ssp: a push applies at once, but a worker
 * may be at most `staleness` pushes ahead of the slowest. asp: every push applies at once.
 */
export interface ParamSync {
  readonly mode: ParamSyncMode;
  readonly workers: number;
  /** ssp only (0 for the others). */
  readonly staleness: number;
}

/** A float32 tensor of a parameter set, as little-endian bytes. */
export interface ParamTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export type ModelCommand =
  /** Stores a chunk under its SHA-256; a no-op if it is already there. */
  | { readonly op: 'chunkPut'; readonly hash: Uint8Array; readonly data: Uint8Array }
  /**
   * Makes a new version visible if every chunk it names is stored, and only if the head is still
   * `expectedHead` (null: whatever it is).
   */
  | { readonly op: 'commitVersion'; readonly model: string; readonly expectedHead: number | null; readonly manifest: ModelManifest }
  | { readonly op: 'deleteVersion'; readonly model: string; readonly version: number }
  /** Deletes unreferenced chunks stored before revision `before` (left by saves that never committed). */
  | { readonly op: 'gcChunks'; readonly before: number }
  | { readonly op: 'paramInit'; readonly model: string; readonly sync: ParamSync; readonly tensors: readonly ParamTensor[]; readonly replace: boolean }
  /** w -= lr * g, float32, for worker `worker` at its clock `clock` (the number of pushes it made before). */
  | {
      readonly op: 'paramPush';
      readonly model: string;
      readonly worker: number;
      readonly clock: number;
      readonly lr: number;
      readonly grads: readonly Uint8Array[];
    };

export const MODEL_OPS = ['chunkPut', 'commitVersion', 'deleteVersion', 'gcChunks', 'paramInit', 'paramPush'] as const;
const SYNC_MODES: readonly ParamSyncMode[] = ['bsp', 'ssp', 'asp'];

export function validateModelCommand(cmd: ModelCommand): void {
  switch (cmd.op) {
    case 'chunkPut':
      validateChunkHash(cmd.hash);
      if (cmd.data.length > MAX_CHUNK_BYTES) throw new TesseraError('ENTRY_TOO_LARGE', `chunk is ${cmd.data.length} bytes, limit ${MAX_CHUNK_BYTES}`);
      return;
    case 'commitVersion':
      validateModelName(cmd.model);
      if (cmd.expectedHead !== null) validateCount(cmd.expectedHead, 'expected head');
      validateManifest(cmd.manifest);
      return;
    case 'deleteVersion':
      validateModelName(cmd.model);
      validateVersion(cmd.version);
      return;
    case 'gcChunks':
      validateCount(cmd.before, 'gc revision');
      return;
    case 'paramInit': {
      validateModelName(cmd.model);
      validateSync(cmd.sync);
      let values = 0;
      const names = new Set<string>();
      for (const t of cmd.tensors) {
        if (names.has(t.name) || t.name.length === 0) throw new TesseraError('INVALID_ARGUMENT', `parameter name ${JSON.stringify(t.name)} is empty or repeated`);
        names.add(t.name);
        const n = elementCount(t.shape);
        if (t.data.length !== n * 4) throw new TesseraError('INVALID_ARGUMENT', `parameter ${t.name}: ${t.data.length} bytes for ${n} float32 values`);
        values += n;
      }
      if (values > MAX_PARAM_VALUES) throw new TesseraError('INVALID_ARGUMENT', `parameter set has ${values} values, limit ${MAX_PARAM_VALUES}`);
      return;
    }
    case 'paramPush':
      validateModelName(cmd.model);
      validateCount(cmd.worker, 'worker');
      validateCount(cmd.clock, 'clock');
      // Checked as the float32 the replicas decode (f32Bits): 1e39 is a finite double but no float32.
      if (!Number.isFinite(Math.fround(cmd.lr))) throw new TesseraError('INVALID_ARGUMENT', `learning rate must be a finite float32, got ${cmd.lr}`);
      return;
  }
}

function validateSync(s: ParamSync): void {
  if (!SYNC_MODES.includes(s.mode)) throw new TesseraError('INVALID_ARGUMENT', `sync mode must be one of ${SYNC_MODES.join(', ')}`);
  if (!Number.isSafeInteger(s.workers) || s.workers < 1 || s.workers > MAX_PARAM_WORKERS) {
    throw new TesseraError('INVALID_ARGUMENT', `workers must be 1..${MAX_PARAM_WORKERS}, got ${s.workers}`);
  }
  validateCount(s.staleness, 'staleness');
  if (s.mode !== 'ssp' && s.staleness !== 0) throw new TesseraError('INVALID_ARGUMENT', 'staleness applies to ssp only');
}

function validateCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TesseraError('INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${n}`);
}

/** The learning rate as the replicas use it: a float32, carried as its bits. */
export function f32Bits(x: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return v.getUint32(0, true);
}

export function f32FromBits(bits: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setUint32(0, bits, true);
  return v.getFloat32(0, true);
}

export function writeModelBody(w: ByteWriter, cmd: ModelCommand): void {
  switch (cmd.op) {
    case 'chunkPut':
      w.raw(cmd.hash).bytes(cmd.data);
      return;
    case 'commitVersion':
      w.string(cmd.model);
      if (cmd.expectedHead === null) w.u8(0);
      else w.u8(1).uvarint(cmd.expectedHead);
      writeManifest(w, cmd.manifest);
      return;
    case 'deleteVersion':
      w.string(cmd.model).uvarint(cmd.version);
      return;
    case 'gcChunks':
      w.uvarint(cmd.before);
      return;
    case 'paramInit':
      w.string(cmd.model).u8(SYNC_MODES.indexOf(cmd.sync.mode)).uvarint(cmd.sync.workers).uvarint(cmd.sync.staleness);
      w.u8(cmd.replace ? 1 : 0).uvarint(cmd.tensors.length);
      for (const t of cmd.tensors) writeParamTensor(w, t);
      return;
    case 'paramPush':
      w.string(cmd.model).uvarint(cmd.worker).uvarint(cmd.clock).u32(f32Bits(cmd.lr)).uvarint(cmd.grads.length);
      for (const g of cmd.grads) w.bytes(g);
      return;
  }
}

export function readModelBody(r: ByteReader, op: ModelCommand['op']): ModelCommand {
  switch (op) {
    case 'chunkPut':
      // Log entries are immutable: the chunk may alias the entry instead of copying a megabyte.
      return { op, hash: r.fixed(CHUNK_HASH_BYTES), data: r.bytesView() };
    case 'commitVersion': {
      const model = r.string();
      const has = r.u8();
      if (has > 1) r.fail(`bad expected-head flag ${has}`);
      const expectedHead = has === 1 ? r.uvarint() : null;
      return { op, model, expectedHead, manifest: readManifest(r) };
    }
    case 'deleteVersion':
      return { op, model: r.string(), version: r.uvarint() };
    case 'gcChunks':
      return { op, before: r.uvarint() };
    case 'paramInit': {
      const model = r.string();
      const mode = SYNC_MODES[r.u8()] ?? r.fail('bad sync mode');
      const sync = { mode, workers: r.uvarint(), staleness: r.uvarint() };
      const replace = r.u8();
      if (replace > 1) r.fail(`bad replace flag ${replace}`);
      const n = boundedCount(r);
      const tensors: ParamTensor[] = [];
      for (let i = 0; i < n; i++) tensors.push(readParamTensor(r));
      return { op, model, sync, tensors, replace: replace === 1 };
    }
    case 'paramPush': {
      const model = r.string();
      const worker = r.uvarint();
      const clock = r.uvarint();
      const lr = f32FromBits(r.u32());
      const n = boundedCount(r);
      const grads: Uint8Array[] = [];
      for (let i = 0; i < n; i++) grads.push(r.bytes());
      return { op, model, worker, clock, lr, grads };
    }
  }
}

export function writeParamTensor(w: ByteWriter, t: ParamTensor): void {
  w.string(t.name).uvarint(t.shape.length);
  for (const d of t.shape) w.uvarint(d);
  w.bytes(t.data);
}

export function readParamTensor(r: ByteReader): ParamTensor {
  const name = r.string();
  const rank = boundedCount(r);
  const shape: number[] = [];
  for (let d = 0; d < rank; d++) shape.push(r.uvarint());
  return { name, shape, data: r.bytes() };
}

function boundedCount(r: ByteReader): number {
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`count ${n} exceeds remaining ${r.remaining} bytes`);
  return n;
}

/** Chunk puts are the biggest commands: one must fit in an entry with its framing. */
export const CHUNK_PUT_OVERHEAD = 64;
if (MAX_CHUNK_BYTES + CHUNK_PUT_OVERHEAD > MAX_ENTRY_BYTES) throw new Error('MAX_CHUNK_BYTES does not fit in an entry');
