/**
 * A parameter set as the state machine keeps it (one record of the `params` table per model):
 * the float32 weights, the sync mode, each worker's clock (pushes accepted from it), the step
 * (updates applied to the weights) and, in bsp, the pushes held for the current step. Worker
 * clocks live here, in replicated state, so a restarted worker resumes where it was.
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { f32Bits, f32FromBits, readParamTensor, writeParamTensor, type ParamSync, type ParamSyncMode, type ParamTensor } from './model-command.ts';

export interface PendingPush {
  readonly lr: number;
  readonly grads: readonly Uint8Array[];
}

export interface ParamState {
  readonly sync: ParamSync;
  readonly step: number;
  readonly clocks: readonly number[];
  readonly tensors: readonly ParamTensor[];
  /** bsp: one slot per worker, the push it made for the current step (null: not yet). */
  readonly pending: readonly (PendingPush | null)[];
}

const MODES: readonly ParamSyncMode[] = ['bsp', 'ssp', 'asp'];

export function encodeParamState(s: ParamState): Uint8Array {
  const w = new ByteWriter(1024);
  w.u8(MODES.indexOf(s.sync.mode)).uvarint(s.sync.workers).uvarint(s.sync.staleness).uvarint(s.step);
  for (const c of s.clocks) w.uvarint(c);
  w.uvarint(s.tensors.length);
  for (const t of s.tensors) writeParamTensor(w, t);
  for (const p of s.pending) {
    if (p === null) {
      w.u8(0);
      continue;
    }
    w.u8(1).u32(f32Bits(p.lr));
    for (const g of p.grads) w.bytes(g);
  }
  return w.finish();
}

export function decodeParamState(data: Uint8Array): ParamState {
  const r = new ByteReader(data, 'parameter set', 'CORRUPTION');
  const mode = MODES[r.u8()] ?? r.fail('bad sync mode');
  const sync: ParamSync = { mode, workers: r.uvarint(), staleness: r.uvarint() };
  const step = r.uvarint();
  if (sync.workers > r.remaining) r.fail(`worker count ${sync.workers} exceeds remaining bytes`);
  const clocks: number[] = [];
  for (let i = 0; i < sync.workers; i++) clocks.push(r.uvarint());
  const n = r.uvarint();
  if (n > r.remaining) r.fail(`tensor count ${n} exceeds remaining bytes`);
  const tensors: ParamTensor[] = [];
  for (let i = 0; i < n; i++) tensors.push(readParamTensor(r));
  const pending: (PendingPush | null)[] = [];
  for (let i = 0; i < sync.workers; i++) {
    const flag = r.u8();
    if (flag === 0) {
      pending.push(null);
      continue;
    }
    if (flag !== 1) r.fail(`bad pending flag ${flag}`);
    const lr = f32FromBits(r.u32());
    const grads: Uint8Array[] = [];
    for (let t = 0; t < n; t++) grads.push(r.bytes());
    pending.push({ lr, grads });
  }
  r.end();
  return { sync, step, clocks, tensors, pending };
}
