/**
 * The parameter server's commands. An update is w = fround(w - fround(lr * g)) element by
 * element: float32 arithmetic spelled out, so every replica computes the same bits (JavaScript
 * numbers are IEEE doubles everywhere, and fround is exact rounding to float32).
 */
import type { KvBackend } from './kv-backend.ts';
import type { KvResult } from './kv-result.ts';
import type { ModelCommand } from './model-command.ts';
import { paramKey } from './model-keys.ts';
import { decodeParamState, encodeParamState, type ParamState, type PendingPush } from './param-state.ts';

type ParamInit = Extract<ModelCommand, { op: 'paramInit' }>;
type ParamPush = Extract<ModelCommand, { op: 'paramPush' }>;

export function readParamState(view: Pick<KvBackend, 'get'>, model: string): ParamState | null {
  const raw = view.get('params', paramKey(model));
  return raw === undefined ? null : decodeParamState(raw);
}

export function paramInit(backend: KvBackend, cmd: ParamInit, revision: number): KvResult {
  if (!cmd.replace && backend.get('params', paramKey(cmd.model)) !== undefined) return { ok: false, reason: 'param_exists' };
  const state: ParamState = {
    sync: cmd.sync,
    step: 0,
    clocks: new Array<number>(cmd.sync.workers).fill(0),
    tensors: cmd.tensors,
    pending: new Array<PendingPush | null>(cmd.sync.workers).fill(null),
  };
  backend.put('params', paramKey(cmd.model), encodeParamState(state));
  return { ok: true, revision, step: 0 };
}

export function paramPush(backend: KvBackend, cmd: ParamPush, revision: number): KvResult {
  const state = readParamState(backend, cmd.model);
  if (state === null) return { ok: false, reason: 'not_found' };
  const { sync } = state;
  if (cmd.worker >= sync.workers) return invalid(`worker ${cmd.worker} is not in 0..${sync.workers - 1}`);
  const shapeError = checkGrads(state, cmd.grads);
  if (shapeError !== null) return invalid(shapeError);
  const clock = state.clocks[cmd.worker]!;
  if (cmd.clock !== clock) return invalid(`worker ${cmd.worker} is at clock ${clock}, the push is for clock ${cmd.clock}`);
  const minClock = Math.min(...state.clocks);
  const clocks = [...state.clocks];
  clocks[cmd.worker] = clock + 1;
  let next: ParamState;
  switch (sync.mode) {
    case 'asp':
      next = { ...state, clocks, step: state.step + 1, tensors: update(state.tensors, [{ lr: cmd.lr, grads: cmd.grads }]) };
      break;
    case 'ssp':
      if (clock - minClock > sync.staleness) return { ok: false, reason: 'param_wait', clock, minClock };
      next = { ...state, clocks, step: state.step + 1, tensors: update(state.tensors, [{ lr: cmd.lr, grads: cmd.grads }]) };
      break;
    case 'bsp': {
      if (clock > minClock) return { ok: false, reason: 'param_wait', clock, minClock };
      const pending = [...state.pending];
      pending[cmd.worker] = { lr: cmd.lr, grads: cmd.grads };
      if (clocks.every((c) => c === minClock + 1)) {
        // The step is complete: apply every worker's push, in worker order, and start the next.
        const pushes = pending.map((p) => p!);
        next = { ...state, clocks, step: state.step + 1, tensors: update(state.tensors, pushes), pending: pending.map(() => null) };
      } else {
        next = { ...state, clocks, pending };
      }
      break;
    }
  }
  backend.put('params', paramKey(cmd.model), encodeParamState(next));
  return { ok: true, revision, clock: clock + 1, step: next.step };
}

function checkGrads(state: ParamState, grads: readonly Uint8Array[]): string | null {
  if (grads.length !== state.tensors.length) return `${grads.length} gradients for ${state.tensors.length} parameters`;
  for (let i = 0; i < grads.length; i++) {
    const t = state.tensors[i]!;
    if (grads[i]!.length !== t.data.length) return `gradient of ${t.name} is ${grads[i]!.length} bytes, the parameter ${t.data.length}`;
  }
  return null;
}

function update(tensors: ParamState['tensors'], pushes: readonly PendingPush[]): ParamState['tensors'] {
  return tensors.map((t, i) => {
    const w = f32(t.data);
    for (const p of pushes) {
      const g = f32(p.grads[i]!);
      const lr = Math.fround(p.lr);
      for (let j = 0; j < w.length; j++) w[j] = Math.fround(w[j]! - Math.fround(lr * g[j]!));
    }
    return { ...t, data: new Uint8Array(w.buffer) };
  });
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A fresh, aligned float32 copy of little-endian bytes. */
function f32(bytes: Uint8Array): Float32Array {
  if (!LITTLE_ENDIAN) throw new Error('the parameter server needs a little-endian host');
  return new Float32Array(bytes.slice().buffer);
}

function invalid(message: string): KvResult {
  return { ok: false, reason: 'invalid', message };
}
