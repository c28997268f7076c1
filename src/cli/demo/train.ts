/**
 * `npm start`: data-parallel training of a linear regression on a 3-node Tessera cluster of
 * real `tessera serve` processes, reached over TCP by remote clients.
 *
 * Four workers each hold a quarter of 10,000 synthetic samples; every step each computes the
 * gradient on its shard and pushes it to the parameter server (bsp: the step applies once all
 * four pushed, as one full-batch gradient step). Mid-training the leader's process is killed
 * (SIGKILL) and later restarted from its directory; training carries on through the election. Checkpoints are saved as model versions;
 * the last is exported to safetensors, imported back and loaded. The run fails unless the
 * trained model's test MSE is within 1% of the closed-form least-squares solution and the
 * reloaded weights are bit-identical to the trained ones.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '../../client/connect.ts';
import type { RemoteClient } from '../../client/remote-client.ts';
import { fromTypedArray, toTypedArray } from '../../tensor/dtype.ts';
import { exportSafetensors, importSafetensors } from '../../tensor/model-files.ts';
import { ParameterServer, type ParamSnapshot } from '../../tensor/parameter-server.ts';
import { TensorStore } from '../../tensor/tensor-store.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import { closedForm, gradient, makeDataset, mse, shard, type Dataset, type LinearModel } from './linear-data.ts';
import { startServers } from './server-processes.ts';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    steps: { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
  },
});

const WORKERS = 4;
const STEPS = Number(args.steps);
const LR = 0.15;
const KILL_AT = Math.floor(STEPS / 3);
const RESTART_AT = Math.floor((2 * STEPS) / 3);
const CHECKPOINT_EVERY = 20;
const MODEL = 'linreg';
const TRUTH: LinearModel = { w: Float64Array.from([1.5, -2, 0.5, 3, -1, 0.25, 2, -0.75]), b: 0.5 };

const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-demo-'));
const started = performance.now();
const log = (s: string) => console.log(`${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s  ${s}`);

const train = makeDataset(10_000, TRUTH, 0.1, 1);
const test = makeDataset(1_000, TRUTH, 0.1, 2);
const exact = closedForm(train);

log(`starting 3 tessera serve processes in ${dir}`);
const servers = await startServers(dir, 3);
const clients: RemoteClient[] = [];
const client = async (): Promise<RemoteClient> => {
  const c = await connect({ endpoints: servers.endpoints, secret: servers.secret, clusterId: servers.clusterId });
  clients.push(c);
  return c;
};
const kv = await client();
const firstLeader = await leaderWithin(15_000);
log(`node ${firstLeader.id} leads (term ${firstLeader.term}); nodes at ${servers.endpoints.join(', ')}`);

const ps = new ParameterServer(kv);
const models = new TensorStore(kv);
await ps.init(MODEL, { weight: f32([8], new Array(8).fill(0)), bias: f32([1], [0]) }, { mode: 'bsp', workers: WORKERS }, { replace: true });

let failure: unknown = null;
const events: string[] = [];
let versions = 0;
const workers = Array.from({ length: WORKERS }, (_, id) => runWorker(id, shard(train, (id * train.samples) / WORKERS, ((id + 1) * train.samples) / WORKERS)));
await Promise.all([...workers, monitor()]).catch((e: unknown) => (failure = e));
if (failure !== null) {
  await shutdown();
  throw failure;
}

const final = await ps.pull(MODEL);
const trained = modelOf(final);
const saved = await models.save(MODEL, final.tensors, { metadata: { step: String(final.step), note: 'final' } });
versions++;
log(`saved the trained model as ${MODEL} version ${saved.version}`);
const file = path.join(dir, 'linreg.safetensors');
await exportSafetensors(models, MODEL, file);
log(`exported version ${saved.version} to ${file} (${fs.statSync(file).size} bytes)`);
const reimported = await importSafetensors(models, `${MODEL}-restored`, file);
versions++;
const reloaded = await models.load(`${MODEL}-restored`, { node: await followerOf((await leaderWithin(15_000)).id) });
log(`imported it back as ${MODEL}-restored version ${reimported.version} and loaded it from a follower`);
const same = [...final.tensors].every(([name, t]) => Buffer.from(reloaded.tensors.get(name)!.data).equals(Buffer.from(t.data)));

const trainedMse = mse(test, trained);
const exactMse = mse(test, exact);
const gap = Math.abs(trainedMse - exactMse) / exactMse;
const storedBytes = (await models.info(MODEL)).versions.reduce((n, v) => n + v.bytes, 0);
const diskBytes = du(dir);
await shutdown();

console.log('');
console.table({
  'test MSE, trained': trainedMse.toPrecision(6),
  'test MSE, closed form': exactMse.toPrecision(6),
  'gap (must be < 1%)': `${(gap * 100).toFixed(4)}%`,
  'steps (bsp, 4 workers)': final.step,
  'leader change': events.join('; '),
  'versions written': versions,
  'model bytes in versions': storedBytes,
  'bytes on disk (3 replicas)': diskBytes,
  'reloaded == trained': same,
});
if (!args.keep && args.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
if (gap >= 0.01 || !same) {
  console.error(gap >= 0.01 ? `FAIL: test MSE is ${(gap * 100).toFixed(3)}% off the closed form` : 'FAIL: reloaded weights differ');
  process.exit(1);
}
console.log('ok');

async function runWorker(id: number, data: Dataset): Promise<void> {
  const worker = new ParameterServer(await client()).worker(MODEL, id);
  for (;;) {
    const snap = await worker.pull();
    if (snap.step >= STEPS) return;
    const g = gradient(data, modelOf(snap));
    // Each worker contributes a quarter of the step: the four pushes sum to one full-batch step.
    await worker.push({ weight: f32([8], Array.from(g.w)), bias: f32([1], [g.b]) }, { lr: LR / WORKERS });
  }
}

async function monitor(): Promise<void> {
  let stopped: number | null = null;
  let lastPrinted = -1;
  for (;;) {
    const snap = await ps.pull(MODEL);
    if (snap.step !== lastPrinted && snap.step % 10 === 0) {
      lastPrinted = snap.step;
      log(`step ${String(snap.step).padStart(3)}  train MSE ${mse(train, modelOf(snap)).toFixed(6)}`);
    }
    if (snap.step < STEPS && Math.floor(snap.step / CHECKPOINT_EVERY) > versions) {
      const v = await models.save(MODEL, snap.tensors, { metadata: { step: String(snap.step) } });
      versions++;
      log(`checkpoint: step ${snap.step} saved as version ${v.version}`);
    }
    if (stopped === null && snap.step >= KILL_AT) {
      const old = await leaderWithin(15_000);
      stopped = old.id;
      const t0 = performance.now();
      servers.kill(stopped);
      log(`killed the leader, node ${stopped} (SIGKILL), at step ${snap.step}`);
      const next = await leaderWithin(15_000, stopped);
      const ms = Math.round(performance.now() - t0);
      log(`node ${next.id} leads (term ${next.term}) after ${ms} ms`);
      events.push(`node ${stopped} -> node ${next.id} in ${ms} ms (term ${next.term})`);
    }
    if (stopped !== null && snap.step >= RESTART_AT && !servers.isRunning(stopped)) {
      await servers.restart(stopped);
      log(`restarted node ${stopped} at step ${snap.step}; it catches up from its log`);
    }
    if (snap.step >= STEPS) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function modelOf(s: ParamSnapshot): LinearModel {
  return { w: toTypedArray(s.tensors.get('weight') as Tensor & { dtype: 'F32' }), b: (toTypedArray(s.tensors.get('bias') as Tensor & { dtype: 'F32' }) as Float32Array)[0]! };
}

function f32(shape: number[], values: number[]): Tensor {
  return fromTypedArray('F32', shape, values);
}

/** The node that reports itself leader (other than `not`), polled until one does. */
async function leaderWithin(ms: number, not = 0): Promise<{ id: number; term: number }> {
  const deadline = performance.now() + ms;
  for (;;) {
    const reports = await kv.nodeStatus(500);
    const leader = reports.find((r) => r.status?.role === 'leader' && r.id !== not);
    if (leader) return { id: leader.id, term: leader.status!.term };
    if (performance.now() > deadline) throw new Error(`no leader within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function followerOf(leader: number): Promise<number> {
  const reports = await kv.nodeStatus(500);
  return reports.find((r) => r.id !== leader && r.status !== null)?.id ?? leader;
}

async function shutdown(): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
  await servers.close();
}

function du(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, e) => n + du(path.join(p, e)), 0);
}
