/**
 * `npm run sim -- --seed 42 --nodes 5 --ops 2000 --faults all --history out.jsonl`
 * `npm run sim -- --seeds 1..500 --faults all`
 * `npm run sim -- --seeds 1..30 --store lmdb` (the LMDB stores in a temporary directory)
 * `npm run sim -- --seeds 1..20 --workload models` (model saves and loads; see model-workload.ts)
 * Prints one line per seed, a replay command for each failing seed, and last a JSON summary:
 * {"seeds","ops","violations","traceHash","simulatedMs","wallMs"} (traceHash of the last seed).
 * Exits 1 if any seed violated an invariant.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { toJsonl } from './check/history.ts';
import { DISK_FAULTS, parseFaults } from './cluster/nemesis.ts';
import { SIM_STORES, type SimStore } from './cluster/node-storage.ts';
import { formatEvent } from './cluster/timeline.ts';
import { runSimulation, WORKLOAD_KINDS, type WorkloadKind } from './run.ts';
import type { ModelWorkloadStats } from './workload/model-workload.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    nodes: { type: 'string', default: '5' },
    ops: { type: 'string', default: '1000' },
    faults: { type: 'string', default: 'all' },
    store: { type: 'string', default: 'memory' },
    workload: { type: 'string', default: 'kv' },
    history: { type: 'string' },
    timeline: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.help) {
  console.log(`usage: npm run sim -- [--seed N | --seeds A..B] [--nodes 5] [--ops 1000] [--faults all|none|LIST]
                   [--store memory|lmdb] [--workload kv|models|both] [--history FILE] [--timeline] [--quiet]
faults: drop,duplicate,delay,reorder,partition,oneway,partial,crash,pause,skew,torn,bitflip
store:  memory (default): simulated disks; lmdb: the LMDB stores, synchronous durable commits
        in a temporary directory per run. With lmdb a crash loses only undelivered
        acknowledgements, and torn and bitflip are not available ('all' leaves them out).
workload: kv (default): put/get/cas/delete, checked for linearizability; models: model writers
        (some killed mid-save), readers and a deleting, collecting janitor, checked for atomic
        versions; both: the two at once, each running --ops operations.`);
  process.exit(0);
}

function intArg(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

function seedList(): number[] {
  if (values.seeds) {
    const m = /^(\d+)\.\.(\d+)$/.exec(values.seeds);
    if (!m) throw new Error(`--seeds must look like A..B, got '${values.seeds}'`);
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (b < a) throw new Error('--seeds: B must be >= A');
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  return [intArg('seed', values.seed ?? '1')];
}

const seeds = seedList();
const nodes = intArg('nodes', values.nodes);
const ops = intArg('ops', values.ops);
if (nodes < 1 || nodes > 9) throw new Error('--nodes must be in 1..9');
const faults = parseFaults(values.faults);
if (!(SIM_STORES as readonly string[]).includes(values.store)) throw new Error(`--store must be one of ${SIM_STORES.join(', ')}, got '${values.store}'`);
const store = values.store as SimStore;
if (!(WORKLOAD_KINDS as readonly string[]).includes(values.workload)) throw new Error(`--workload must be one of ${WORKLOAD_KINDS.join(', ')}, got '${values.workload}'`);
const workloadKind = values.workload as WorkloadKind;
const unsupported = DISK_FAULTS.filter((f) => faults.has(f));
if (store === 'lmdb' && values.faults !== 'all' && unsupported.length > 0) {
  throw new Error(`--store lmdb cannot inject ${unsupported.join(', ')} (LMDB commits are synchronous and durable)`);
}
const wallStart = performance.now(); // wall-clock-ok: reporting only
let totalOps = 0;
let totalSimMs = 0;
let failed = 0;
let lastHash = '';
/** Model workload totals over the seeds (model runs only). */
let modelTotals: ModelWorkloadStats | null = null;

for (const seed of seeds) {
  const r = runSimulation({
    seed,
    nodes,
    ops,
    faults,
    store,
    workloadKind,
    onEvent: values.timeline ? (e) => console.log(formatEvent(e)) : undefined,
  });
  totalOps += r.ops;
  totalSimMs += r.simulatedMs;
  lastHash = r.traceHash;
  if (values.history && seeds.length === 1) writeFileSync(values.history, toJsonl(r.history));
  const verdict = r.violations.length === 0 ? 'ok' : `FAIL (${r.violations.length})`;
  if (!values.quiet || r.violations.length > 0) {
    console.log(
      `seed ${seed}: ${verdict} ops=${r.ops} acked=${r.acked} info=${r.info} faults=${r.faults.length} elections=${r.elections} snaps=${r.snapshotsInstalled} ` +
        `sim=${(r.simulatedMs / 1000).toFixed(1)}s wall=${r.wallMs}ms hash=${r.traceHash}`,
    );
    if (r.models) console.log(`  models: ${describeModels(r.models)}`);
  }
  if (r.models) modelTotals = addStats(modelTotals, r.models);
  if (r.violations.length > 0) {
    failed++;
    for (const v of r.violations) console.log(`  ${v}`);
    console.log(`  replay: npm run sim -- --seed ${seed} --nodes ${nodes} --ops ${ops} --faults ${values.faults}${store === 'memory' ? '' : ` --store ${store}`}${workloadKind === 'kv' ? '' : ` --workload ${workloadKind}`} --timeline`);
  }
}

console.log(
  JSON.stringify({
    seeds: seeds.length,
    ops: totalOps,
    violations: failed,
    traceHash: lastHash,
    simulatedMs: totalSimMs,
    wallMs: Math.round(performance.now() - wallStart), // wall-clock-ok: reporting only
    ...(modelTotals ? { models: modelTotals } : {}),
  }),
);
process.exit(failed > 0 ? 1 : 0);

function describeModels(m: ModelWorkloadStats): string {
  return (
    `saves=${m.savesStarted} committed=${m.savesCommitted} killed=${m.savesKilled} interrupted=${m.savesInterrupted} ` +
    `loadsChecked=${m.loadsChecked} loadsDeleted=${m.loadsDeleted} chunkReads=${m.chunkReads} deletes=${m.deletes} gcs=${m.gcs} ` +
    `collected=${m.chunksCollected} scanned=${m.versionsScanned}`
  );
}

function addStats(a: ModelWorkloadStats | null, b: ModelWorkloadStats): ModelWorkloadStats {
  if (a === null) return { ...b };
  const out = { ...a };
  for (const k of Object.keys(b) as (keyof ModelWorkloadStats)[]) out[k] += b[k];
  return out;
}
