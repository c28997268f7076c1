/**
 * The parameter server of data-parallel training. Parameters are float32 tensors kept in one
 * replicated record per model; a push is one replicated command applying w -= lr * g in float32
 * on every replica, and a pull reads that record whole, so it is always one consistent step.
 *
 * Synchronization (ParamSync in the store): bsp holds a step's pushes until every worker pushed;
 * ssp lets a worker run at most `staleness` pushes ahead of the slowest; asp never waits. A
 * worker's clock (pushes accepted) is part of the record, so a restarted worker resumes at it.
 */
import { TesseraError } from '../errors.ts';
import { refusal, timeoutOnly } from './answers.ts';
import type { KvResult } from '../store/kv-result.ts';
import type { ParamSync } from '../store/model-command.ts';
import { paramKey, validateModelName } from '../store/model-keys.ts';
import { decodeParamState, type ParamState } from '../store/param-state.ts';
import { byteLength } from './dtype.ts';
import type { Tensor } from './tensor.ts';
import type { TensorClient, TensorReadOptions } from './tensor-client.ts';
import { memorySource, type TensorsInput } from './tensor-source.ts';

/** Polling for other workers backs off from the first to the last of these. */
const WAIT_MIN_MS = 2;
const WAIT_MAX_MS = 50;
const DEFAULT_WAIT_TIMEOUT_MS = 60_000;

export interface ParamSnapshot {
  readonly sync: ParamSync;
  /** Updates applied to the weights (bsp: completed steps). */
  readonly step: number;
  readonly clocks: readonly number[];
  readonly tensors: Map<string, Tensor>;
}

export class ParameterServer {
  constructor(private readonly kv: TensorClient) {}

  /** Creates a model's parameter set (float32 tensors); CONFLICT if it exists and not `replace`. */
  async init(model: string, tensors: TensorsInput, sync: { readonly mode: ParamSync['mode']; readonly workers: number; readonly staleness?: number }, options: { readonly replace?: boolean; readonly timeoutMs?: number } = {}): Promise<void> {
    validateModelName(model);
    const source = memorySource(tensors);
    const params = await Promise.all(
      source.tensors.map(async (t) => {
        if (t.dtype !== 'F32') throw new TesseraError('INVALID_ARGUMENT', `parameter ${t.name} is ${t.dtype}; the parameter server keeps F32`);
        const n = t.shape.reduce((a, b) => a * b, 1) * 4;
        return { name: t.name, shape: t.shape, data: await source.read(t.name, 0, n) };
      }),
    );
    const res = await this.kv.modelCommand(
      { op: 'paramInit', model, sync: { mode: sync.mode, workers: sync.workers, staleness: sync.staleness ?? 0 }, tensors: params, replace: options.replace ?? false },
      timeoutOnly(options),
    );
    if (!res.ok && res.reason === 'param_exists') throw new TesseraError('CONFLICT', `model ${model} already has a parameter set`);
    if (!res.ok) throw refusal(`init of ${model}`, res);
  }

  /** The parameter set as of one step (linearizable unless options say otherwise). */
  async pull(model: string, options: TensorReadOptions & { readonly minRevision?: number } = {}): Promise<ParamSnapshot> {
    validateModelName(model);
    const raw = await this.kv.readTable('params', paramKey(model), { consistency: 'linearizable', ...options });
    if (raw === null) throw new TesseraError('NOT_FOUND', `model ${model} has no parameter set`);
    return snapshotOf(decodeParamState(raw));
  }

  worker(model: string, id: number): ParameterWorker {
    validateModelName(model);
    if (!Number.isSafeInteger(id) || id < 0) throw new TesseraError('INVALID_ARGUMENT', `worker id must be an integer >= 0, got ${id}`);
    return new ParameterWorker(this, this.kv, model, id);
  }
}

export class ParameterWorker {
  /** Pushes accepted from this worker; null until read from the store (resume after a restart). */
  private clockValue: number | null = null;
  /** The parameters in the order the store applies gradients, from the last pull. */
  private params: readonly { readonly name: string; readonly shape: readonly number[] }[] | null = null;

  constructor(
    private readonly server: ParameterServer,
    private readonly kv: TensorClient,
    readonly model: string,
    readonly id: number,
  ) {}

  get clock(): number | null {
    return this.clockValue;
  }

  /**
   * Waits until this worker may compute its next gradient (bsp: its last step is applied;
   * ssp: it is within the staleness bound), then returns the parameters to compute it on.
   */
  async pull(options: TensorReadOptions & { readonly waitTimeoutMs?: number } = {}): Promise<ParamSnapshot> {
    const deadline = Date.now() + (options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS);
    for (let delay = WAIT_MIN_MS; ; delay = Math.min(WAIT_MAX_MS, delay * 2)) {
      const snap = await this.server.pull(this.model, options);
      const clock = snap.clocks[this.id];
      if (clock === undefined) throw new TesseraError('INVALID_ARGUMENT', `worker ${this.id} is not one of the ${snap.clocks.length} workers of ${this.model}`);
      this.clockValue = clock;
      this.params = [...snap.tensors].map(([name, t]) => ({ name, shape: t.shape }));
      if (mayCompute(snap, clock)) return snap;
      if (Date.now() > deadline) throw new TesseraError('TIMEOUT', `worker ${this.id} of ${this.model} waited too long for the other workers`);
      await sleep(delay);
    }
  }

  /**
   * Pushes gradients at this worker's clock: by parameter name, one F32 tensor of the
   * parameter's shape for every parameter (INVALID_ARGUMENT otherwise: the store applies them in
   * parameter order, so a gradient must never land on another parameter).
   */
  async push(grads: TensorsInput, options: { readonly lr: number; readonly timeoutMs?: number; readonly waitTimeoutMs?: number }): Promise<{ readonly clock: number; readonly step: number }> {
    if (this.clockValue === null || this.params === null) await this.pull({ ...(options.waitTimeoutMs !== undefined && { waitTimeoutMs: options.waitTimeoutMs }) });
    const data = await this.gradientBytes(grads, this.params!);
    for (;;) {
      const clock = this.clockValue!;
      let res: KvResult;
      try {
        res = await this.kv.modelCommand({ op: 'paramPush', model: this.model, worker: this.id, clock, lr: options.lr, grads: data }, timeoutOnly(options));
      } catch (e) {
        // The push may or may not have applied: read the clock again before the next one.
        this.clockValue = null;
        throw e;
      }
      if (res.ok) {
        this.clockValue = res.clock!;
        return { clock: res.clock!, step: res.step! };
      }
      if (res.reason !== 'param_wait') throw refusal(`push of worker ${this.id} to ${this.model}`, res);
      await this.pull(options.waitTimeoutMs !== undefined ? { waitTimeoutMs: options.waitTimeoutMs } : {});
    }
  }

  /** The gradients' bytes in parameter order, each checked against its parameter. */
  private gradientBytes(grads: TensorsInput, params: NonNullable<ParameterWorker['params']>): Promise<Uint8Array[]> {
    const source = memorySource(grads);
    const given = new Map(source.tensors.map((t) => [t.name, t]));
    const bad = (why: string) => new TesseraError('INVALID_ARGUMENT', `push of worker ${this.id} to ${this.model}: ${why}`);
    const known = new Set(params.map((p) => p.name));
    for (const name of given.keys()) if (!known.has(name)) throw bad(`there is no parameter ${JSON.stringify(name)}`);
    return Promise.all(
      params.map((p) => {
        const t = given.get(p.name);
        if (t === undefined) throw bad(`no gradient for parameter ${JSON.stringify(p.name)}`);
        if (t.dtype !== 'F32') throw bad(`the gradient of ${JSON.stringify(p.name)} is ${t.dtype}; gradients are F32`);
        if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
          throw bad(`the gradient of ${JSON.stringify(p.name)} has shape [${t.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
        }
        return source.read(p.name, 0, byteLength('F32', p.shape));
      }),
    );
  }
}

function mayCompute(s: ParamSnapshot, clock: number): boolean {
  switch (s.sync.mode) {
    case 'bsp':
      return s.step >= clock;
    case 'ssp':
      return clock - Math.min(...s.clocks) <= s.sync.staleness;
    case 'asp':
      return true;
  }
}

function snapshotOf(state: ParamState): ParamSnapshot {
  return {
    sync: state.sync,
    step: state.step,
    clocks: state.clocks,
    tensors: new Map(state.tensors.map((t) => [t.name, { dtype: 'F32' as const, shape: t.shape, data: t.data }])),
  };
}



function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
