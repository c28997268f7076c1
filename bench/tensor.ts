/**
 * `npm run bench:tensor`: ingest and load of a model through a 3-node in-process cluster on
 * LMDB with durable commits, against same-run baselines on the same disk.
 *
 *   ingest   TensorStore.save of a --mb MiB model (mixed tensor sizes, F32 and F16) in 1 MiB
 *            chunks; every chunk is fsynced into 3 logs and 3 state machines before the commit
 *   dd       `dd` of the same number of bytes with conv=fdatasync (sequential write, one sync)
 *   load     TensorStore.load of the whole version from a follower (ReadIndex, then parallel
 *            chunk reads with SHA-256 checks) into preallocated buffers (`into`); loadFresh,
 *            into buffers it allocates (the first touch of fresh pages costs as much again)
 *   rawRead  LMDB getBinary of the same chunks from that follower's state machine environment
 *
 * ingestRatio = ingestMBps / (ddMBps / 3): three replicas share one disk here. loadRatio =
 * loadMBps / rawLmdbReadMBps. Options: --mb 256, --dir <parent> (default os.tmpdir()), --keep.
 * Last line JSON: {"ingestMBps","ddMBps","ingestRatio","loadMBps","loadFreshMBps","rawLmdbReadMBps","loadRatio"}.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { open } from 'lmdb';
import { Cluster } from '../src/cluster/cluster.ts';
import type { Tensor } from '../src/tensor/tensor.ts';
import { TensorStore } from '../src/tensor/tensor-store.ts';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '256' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const MiB = 1024 * 1024;
const totalBytes = Number(values.mb) * MiB;
const root = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'tessera-bench-tensor-'));

/** Mixed sizes, as in a real checkpoint: a few large matrices, many small vectors, F32 and F16. */
function makeModel(bytes: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  let left = bytes;
  let x = 12345;
  const fill = (n: number) => {
    const d = new Uint8Array(n);
    // Cheap distinct content per tensor, so no two chunks share a content address.
    const v = new Uint32Array(d.buffer, 0, n >>> 2);
    for (let i = 0; i < v.length; i++) v[i] = x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return d;
  };
  for (let layer = 0; left > 0; layer++) {
    const big = Math.min(left, 24 * MiB);
    const rows = Math.max(1, Math.floor(big / 4 / 1024));
    out.set(`layers.${layer}.attn.weight`, { dtype: 'F32', shape: [rows, 1024], data: fill(rows * 1024 * 4) });
    left -= rows * 1024 * 4;
    if (left <= 0) break;
    const mid = Math.min(left, 6 * MiB);
    const r2 = Math.max(1, Math.floor(mid / 2 / 1024));
    out.set(`layers.${layer}.mlp.weight`, { dtype: 'F16', shape: [r2, 1024], data: fill(r2 * 1024 * 2) });
    left -= r2 * 1024 * 2;
    for (let k = 0; k < 4 && left > 0; k++) {
      const n = Math.min(left, 4096);
      out.set(`layers.${layer}.norm${k}.bias`, { dtype: 'F32', shape: [n >>> 2], data: fill(n - (n % 4)) });
      left -= n - (n % 4);
      if (n < 4) left = 0;
    }
  }
  return out;
}

function ddMBps(bytes: number): number {
  const file = path.join(root, 'dd.bin');
  const t0 = performance.now();
  const r = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${Math.round(bytes / MiB)}`, 'conv=fdatasync'], { encoding: 'utf8' });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`dd failed: ${r.stderr}`);
  fs.rmSync(file);
  return bytes / MiB / s;
}

const model = makeModel(totalBytes);
const bytes = [...model.values()].reduce((n, t) => n + t.data.length, 0);
console.log(`model: ${model.size} tensors, ${(bytes / MiB).toFixed(1)} MiB; data in ${root}`);

const dd1 = ddMBps(bytes);
console.log(`dd (conv=fdatasync): ${dd1.toFixed(1)} MiB/s`);

const dir = path.join(root, 'cluster');
const cluster = await Cluster.start({ nodes: 3, dir });
while (cluster.leader() === 0) await new Promise((r) => setTimeout(r, 10));
const store = new TensorStore(cluster.client());

let t0 = performance.now();
const saved = await store.save('bench', model);
const ingestS = (performance.now() - t0) / 1000;
const ingestMBps = bytes / MiB / ingestS;
console.log(`ingest: ${saved.chunks} chunks in ${ingestS.toFixed(2)} s = ${ingestMBps.toFixed(1)} MiB/s`);

const dd2 = ddMBps(bytes);
const ddAvg = (dd1 + dd2) / 2;
console.log(`dd again: ${dd2.toFixed(1)} MiB/s (average ${ddAvg.toFixed(1)})`);

const follower = cluster.ids.find((id) => id !== cluster.leader())!;
// Let the follower apply everything before timing reads from it.
await store.load('bench', { node: follower, names: [model.keys().next().value!] });
t0 = performance.now();
const loaded = await store.load('bench', { node: follower });
const freshS = (performance.now() - t0) / 1000;
const loadFreshMBps = bytes / MiB / freshS;
console.log(`load from follower ${follower} into new buffers: ${loaded.tensors.size} tensors in ${freshS.toFixed(2)} s = ${loadFreshMBps.toFixed(1)} MiB/s (first touch of fresh memory included)`);
// Into preallocated buffers (the load API's `into`), as a training job reloading weights does.
const into = Object.fromEntries([...loaded.tensors].map(([name, t]) => [name, t.data]));
t0 = performance.now();
await store.load('bench', { node: follower, into });
const loadS = (performance.now() - t0) / 1000;
const loadMBps = bytes / MiB / loadS;
console.log(`load from follower ${follower} into preallocated buffers: ${loadS.toFixed(2)} s = ${loadMBps.toFixed(1)} MiB/s`);

// The chunk addresses of the version, then the same reads straight from the follower's LMDB.
const hashes: Uint8Array[] = [];
await cluster.close();
const { decodeStoredVersion, versionKey } = await import('../src/store/model-keys.ts');
const stateDir = path.join(dir, `node-${follower}`, 'state');
const env = open({ path: path.join(stateDir, fs.readFileSync(path.join(stateDir, 'CURRENT'), 'utf8').trim()), maxDbs: 16, readOnly: true });
const data = env.openDB<Buffer, Uint8Array>('data', { encoding: 'binary', keyEncoding: 'binary' });
const chunks = env.openDB<Buffer, Uint8Array>('chunks', { encoding: 'binary', keyEncoding: 'binary' });
const raw = data.getBinary(Buffer.from(versionKey('bench', saved.version)))!;
// Data-table values are records (revisions + value); the manifest sits at the end of it.
const { decodeDataRecord } = await import('../src/store/kv-data.ts');
const stored = decodeStoredVersion(decodeDataRecord(versionKey('bench', saved.version), raw).value);
for (const t of stored.manifest.tensors) hashes.push(...t.chunks);
t0 = performance.now();
let rawBytes = 0;
for (const h of hashes) rawBytes += chunks.getBinary(Buffer.from(h))!.length;
const rawS = (performance.now() - t0) / 1000;
const rawLmdbReadMBps = rawBytes / MiB / rawS;
console.log(`raw LMDB getBinary of the same ${hashes.length} chunks: ${rawLmdbReadMBps.toFixed(1)} MiB/s`);
await env.close();
if (!values.keep) fs.rmSync(root, { recursive: true, force: true });

const r1 = (n: number) => Math.round(n * 10) / 10;
const r3 = (n: number) => Math.round(n * 1000) / 1000;
console.log(
  JSON.stringify({
    ingestMBps: r1(ingestMBps),
    ddMBps: r1(ddAvg),
    ingestRatio: r3(ingestMBps / (ddAvg / 3)),
    loadMBps: r1(loadMBps),
    loadFreshMBps: r1(loadFreshMBps),
    rawLmdbReadMBps: r1(rawLmdbReadMBps),
    loadRatio: r3(loadMBps / rawLmdbReadMBps),
  }),
);
