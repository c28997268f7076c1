/**
 * bench:compare-etcd (issue 6): Tessera against etcd on the same machine, with the same Node
 * client workload. Not part of `npm test`.
 *
 *   npm run bench:compare-etcd [-- --seconds 5 --warmup 1 ...]
 *
 * Both systems run 3 members on loopback, each its own process with its own data directory on
 * the same disk (a fresh temp directory), with fsync on (Tessera: LMDB durable commits, its only
 * mode; etcd: its default WAL fsync, --unsafe-no-fsync not passed). etcd comes from Debian's
 * `etcd-server` package, installed with apt-get if `etcd` is absent.
 *
 * Order (--order): `alternate` (default) starts both clusters, then runs each phase on one
 * system and right after on the other, who goes first alternating by phase and by round, so that
 * noise from other work on the machine falls on both alike (the idle cluster's heartbeats cost
 * little; its CPU shows in the "other" column); `tessera,etcd` or `etcd,tessera` runs one
 * system after the other, each cluster alone on the machine (started, filled, measured,
 * stopped). The Node process driving the load is the same for both. Each phase runs after a
 * warm-up of the same workload (--warmup s) and is measured for --seconds; --rounds N repeats
 * the four phases N times and reports the round with the median ops/s:
 *
 *   put1    1 loop of sequential 256-byte puts, random keys among --keys (4096)
 *   put64   --concurrency (64) loops of puts
 *   get1    1 loop of linearizable gets (etcd: the default Range, serializable=false;
 *           Tessera: consistency 'linearizable', ReadIndex)
 *   get64   --concurrency loops of linearizable gets
 *
 * Clients: Tessera, --tessera-clients (16) connect() clients with concurrency/clients sessions
 * each (a client has one write in flight per session), loop w using client w % n; etcd,
 * --etcd-clients (16) Etcd3 instances (one gRPC channel per host each), loop w using instance
 * w % n, all pointed at the leader's client URL (--etcd-target leader, etcd's best case) or at
 * all three members (--etcd-target all: followers forward to the leader).
 *
 * Options: --seconds 5, --warmup 1, --keys 4096, --value-bytes 256, --concurrency 64,
 * --tessera-clients 16, --etcd-clients 16, --etcd-target leader|all, --order alternate,
 * --rounds 1, --only tessera|etcd, --dir <parent> (default os.tmpdir()), --keep (keep the temp dir),
 * --cpu-prof <dir> (V8 CPU profiles of the 3 Tessera server processes, tessera-node-<id>-<pid>.cpuprofile,
 * written when they stop, via the preload bench/compare-etcd-cpu-prof.mjs; summarize with
 * `npx tsx bench/cpuprofile-top.ts <file>`), --max-seconds N (watchdog: kill everything, exit 3;
 * default 600 plus twice the phases' own time).
 *
 * Last line JSON: {"etcdVersion","order","tessera":{"put1","put64","get1","get64","p99Put64Ms"},
 * "etcd":{...},"writeRatio64","readRatio64"} (ops/s; ratios tessera / etcd).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { startServers, type ServerProcesses } from '../src/cli/demo/server-processes.ts';
import { connect } from '../src/client/connect.ts';
import type { RemoteClient } from '../src/client/remote-client.ts';
import { closedLoop, fmtMs, fmtRate, fsKind, type PhaseResult } from './kv-lib.ts';
import { EtcdInstallError, ensureEtcd, startEtcd, type EtcdBinary, type EtcdCluster } from './etcd-cluster.ts';
import { cpuOfTree, machineBusySeconds } from './compare-etcd-cpu.ts';

const PROFILER_PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'compare-etcd-cpu-prof.mjs');
const SYSTEMS = ['tessera', 'etcd'] as const;
type System = (typeof SYSTEMS)[number];
const PHASES = ['put1', 'put64', 'get1', 'get64'] as const;
type Phase = (typeof PHASES)[number];

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    keys: { type: 'string', default: '4096' },
    'value-bytes': { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '64' },
    'tessera-clients': { type: 'string', default: '16' },
    'etcd-clients': { type: 'string', default: '16' },
    'etcd-target': { type: 'string', default: 'leader' },
    order: { type: 'string', default: 'alternate' },
    rounds: { type: 'string', default: '1' },
    only: { type: 'string' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'max-seconds': { type: 'string' },
  },
});

const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const keyCount = Number(values.keys);
const valueBytes = Number(values['value-bytes']);
const concurrency = Number(values.concurrency);
const tesseraClients = Number(values['tessera-clients']);
const etcdClients = Number(values['etcd-clients']);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bad --rounds: ${values.rounds}`);
/** Default: 10 minutes for starting, filling and stopping, plus twice the phases' own time. */
const maxSeconds = values['max-seconds'] !== undefined ? Number(values['max-seconds']) : 600 + 2 * rounds * PHASES.length * 2 * (seconds + warmup);
for (const [k, v] of Object.entries({ seconds, warmup, keys: keyCount, 'value-bytes': valueBytes, concurrency, 'tessera-clients': tesseraClients, 'etcd-clients': etcdClients, 'max-seconds': maxSeconds })) {
  if (!(Number.isFinite(v) && v >= 0) || (k !== 'warmup' && v === 0)) throw new Error(`bad --${k}: ${String(v)}`);
}
if (!Number.isInteger(concurrency) || !Number.isInteger(tesseraClients) || concurrency % tesseraClients !== 0) {
  throw new Error(`--concurrency (${concurrency}) must be a multiple of --tessera-clients (${tesseraClients})`);
}
const tesseraSessions = concurrency / tesseraClients;
const etcdTarget = values['etcd-target'];
if (etcdTarget !== 'leader' && etcdTarget !== 'all') throw new Error(`--etcd-target must be leader or all, got ${etcdTarget}`);
const alternate = values.order === 'alternate';
const order = (alternate ? ['tessera', 'etcd'] : values.order.split(',')) as System[];
if (order.length !== 2 || !SYSTEMS.every((s) => order.includes(s))) throw new Error(`--order must be alternate, tessera,etcd or etcd,tessera`);
const only = values.only as System | undefined;
if (only !== undefined && !SYSTEMS.includes(only)) throw new Error(`--only must be tessera or etcd`);
const systems = order.filter((s) => only === undefined || s === only);
const cpuProfDir = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null;

// --- temp dir, cleanup on every exit path ---
const parent = path.resolve(values.dir ?? os.tmpdir());
fs.mkdirSync(parent, { recursive: true });
const root = fs.mkdtempSync(path.join(parent, 'tessera-compare-etcd-'));
let etcdCluster: EtcdCluster | null = null;
let tesseraServers: ServerProcesses | null = null;
let cleaned = false;
/** Synchronous: usable from 'exit' and signal handlers. */
function cleanupNow(): void {
  if (cleaned) return;
  cleaned = true;
  etcdCluster?.killNow();
  if (tesseraServers) for (const id of [1, 2, 3]) tesseraServers.kill(id);
  if (!values.keep) fs.rmSync(root, { recursive: true, force: true });
}
process.once('exit', cleanupNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping the clusters`);
    cleanupNow();
    process.exit(130);
  });
}
const watchdog = setTimeout(() => {
  console.error(`compare-etcd: still running after --max-seconds ${maxSeconds}: killing the clusters`);
  cleanupNow();
  process.exit(3);
}, maxSeconds * 1000);
watchdog.unref();

// --- workload data: the same keys, values and key sequence for both systems ---
const keys = Array.from({ length: keyCount }, (_, i) => `bench/${String(i).padStart(6, '0')}`);
const vals = Array.from({ length: 16 }, () => {
  const v = Buffer.alloc(valueBytes);
  for (let i = 0; i < v.length; i++) v[i] = (Math.random() * 256) | 0;
  return v;
});
const value = (n: number): Buffer => vals[n & 15]!;
let rnd = 12345;
const pick = (): string => {
  rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
  return keys[rnd % keyCount]!;
};

interface Driver {
  readonly system: System;
  /** Loop w's put / get (w in 0..concurrency-1). */
  put(w: number, key: string, value: Buffer): Promise<unknown>;
  get(w: number, key: string): Promise<unknown>;
  /** Processes whose CPU time counts as "server". */
  readonly serverPids: readonly number[];
  readonly describe: string;
  stop(): Promise<void>;
}

interface PhaseOut extends PhaseResult {
  /** CPU time as % of one core over the phase: the 3 server processes, this (client) process, everything else on the machine. */
  readonly serverCpuPct: number;
  readonly clientCpuPct: number;
  readonly otherCpuPct: number;
}

/** Every round's result per system and phase (rounds > 1: the median round is reported). */
const results = new Map<System, Map<Phase, PhaseOut[]>>();
const notes: string[] = [];
let etcdVersion = 'unknown';
let etcdBin: EtcdBinary | null = null;

/** Writes every key, so gets find values and puts overwrite (as in steady state). */
async function fill(driver: Driver): Promise<void> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = next++; i < keyCount; i = next++) await driver.put(w, keys[i]!, value(i));
    }),
  );
  console.log(`  ${driver.system}: ${keyCount} keys written in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${driver.describe}`);
}

async function runPhase(driver: Driver, phase: Phase): Promise<void> {
  const workers = phase.endsWith('64') ? concurrency : 1;
  const op: (w: number, n: number) => Promise<unknown> = phase.startsWith('put')
    ? (w, n) => driver.put(w, pick(), value(n))
    : (w) => driver.get(w, pick());
  if (warmup > 0) await closedLoop(workers, warmup, op, false);
  const s0 = cpuOfTree(driver.serverPids).seconds;
  const m0 = machineBusySeconds();
  const c0 = process.cpuUsage();
  const r = await closedLoop(workers, seconds, op);
  const s1 = cpuOfTree(driver.serverPids).seconds;
  const m1 = machineBusySeconds();
  const c = process.cpuUsage(c0);
  const server = s1 - s0;
  const client = (c.user + c.system) / 1e6;
  const pct = (cpuSeconds: number) => (cpuSeconds / r.seconds) * 100;
  const res: PhaseOut = { ...r, serverCpuPct: pct(server), clientCpuPct: pct(client), otherCpuPct: pct(Math.max(0, m1 - m0 - server - client)) };
  let bySystem = results.get(driver.system);
  if (!bySystem) results.set(driver.system, (bySystem = new Map()));
  bySystem.set(phase, [...(bySystem.get(phase) ?? []), res]);
  console.log(
    `  ${driver.system.padEnd(7)} ${phase.padEnd(6)} ${fmtRate(res.opsPerSec).padStart(8)} ops/s  p50 ${fmtMs(res.p50Ms).padStart(6)} ms  p99 ${fmtMs(res.p99Ms).padStart(6)} ms  ` +
      `errors ${res.errors}  CPU: servers ${res.serverCpuPct.toFixed(0)}%, client ${res.clientCpuPct.toFixed(0)}%, others ${res.otherCpuPct.toFixed(0)}%`,
  );
  if (r.errors > 0) console.log(`    first error: ${String(r.firstError)}`);
}

async function startTessera(): Promise<Driver> {
  const dir = path.join(root, 'tessera');
  fs.mkdirSync(dir);
  const savedNodeOptions = process.env.NODE_OPTIONS;
  if (cpuProfDir) {
    fs.mkdirSync(cpuProfDir, { recursive: true });
    // Inherited by the `tessera serve` children (startServers spawns them with process.env);
    // Node 20 refuses --cpu-prof in NODE_OPTIONS, so a preload runs the profiler instead.
    process.env.NODE_OPTIONS = `${savedNodeOptions ?? ''} --import=${pathToFileURL(PROFILER_PRELOAD).href}`.trim();
    process.env.COMPARE_ETCD_CPU_PROF_DIR = cpuProfDir;
  }
  try {
    tesseraServers = await startServers(dir, 3);
  } finally {
    if (cpuProfDir) {
      if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = savedNodeOptions;
      delete process.env.COMPARE_ETCD_CPU_PROF_DIR;
    }
  }
  const servers = tesseraServers;
  const clients: RemoteClient[] = [];
  const stop = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await servers.close();
    tesseraServers = null;
  };
  try {
    for (let i = 0; i < tesseraClients; i++) {
      clients.push(await connect({ endpoints: servers.endpoints, secret: servers.secret, clusterId: servers.clusterId, sessions: tesseraSessions }));
    }
    // The first write waits for a leader (the client retries until one is elected).
    await clients[0]!.put('compare-etcd/ready', 'x', { timeoutMs: 30_000 });
  } catch (e) {
    await stop();
    throw e;
  }
  const pids = serverPidsUnder(dir);
  const leaderNow = async (): Promise<number> => {
    for (const r of await clients[0]!.nodeStatus()) if (r.status?.role === 'leader') return r.id;
    return 0;
  };
  const leader = await leaderNow();
  return {
    system: 'tessera',
    put: (w, k, v) => clients[w % clients.length]!.put(k, v),
    get: (w, k) => clients[w % clients.length]!.get(k, { consistency: 'linearizable' }),
    serverPids: pids,
    describe: `${tesseraClients} clients x ${tesseraSessions} sessions, leader node ${leader || '?'}, server pids ${pids.join(',')}`,
    stop: async () => {
      const after = await leaderNow().catch(() => 0);
      if (after !== leader) notes.push(`Tessera leadership moved during the run (node ${leader} -> ${after || 'unknown'})`);
      await stop();
    },
  };
}

async function startEtcdDriver(): Promise<Driver> {
  const bin = etcdBin ?? ensureEtcd(path.join(os.tmpdir(), 'compare-etcd-apt.log'));
  const dir = path.join(root, 'etcd');
  fs.mkdirSync(dir);
  etcdCluster = await startEtcd(bin.bin, dir, 3);
  const cluster = etcdCluster;
  const clients: Etcd3[] = [];
  const stop = async () => {
    for (const c of clients) c.close();
    await cluster.close();
    etcdCluster = null;
  };
  let leader: string;
  try {
    leader = await cluster.leaderClientUrl();
  } catch (e) {
    await stop();
    throw e;
  }
  const hosts = etcdTarget === 'leader' ? [leader] : [...cluster.clientUrls];
  for (let i = 0; i < etcdClients; i++) {
    clients.push(new Etcd3({ hosts, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 15_000 }) }));
  }
  const pids = serverPidsUnder(dir);
  return {
    system: 'etcd',
    put: (w, k, v) => clients[w % clients.length]!.put(k).value(v).exec(),
    get: (w, k) => clients[w % clients.length]!.get(k).exec(), // serializable defaults to false: linearizable
    serverPids: pids,
    describe: `${etcdClients} Etcd3 instances -> ${etcdTarget === 'leader' ? `leader ${leader}` : 'all 3 members'}, server pids ${pids.join(',')}`,
    stop: async () => {
      const after = await cluster.leaderClientUrl().catch(() => 'unknown');
      if (after !== leader) notes.push(`etcd leadership moved during the run (${leader} -> ${after})`);
      await stop();
    },
  };
}

const start = (s: System): Promise<Driver> => (s === 'tessera' ? startTessera() : startEtcdDriver());

/** The pids of the processes whose command line mentions `dir` (the servers started under it). */
function serverPidsUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids.sort((a, b) => a - b);
}

// --- run ---
console.log(`bench:compare-etcd  dir ${root} (${fsKind(root)})  ${os.cpus().length} CPUs  node ${process.version}`);
if (fsKind(root) === 'tmpfs') console.log('  WARNING: this directory is on tmpfs (RAM): fsync costs nothing here; pass --dir on a real disk');
console.log(
  `  ${seconds} s per phase after ${warmup} s of warm-up of the same workload; ${valueBytes}-byte values over ${keyCount} keys; concurrency ${concurrency}; ${rounds} round(s)`,
);
console.log(
  alternate && systems.length === 2
    ? `  order: alternate: both clusters up; each phase runs on one system then right after on the other, who goes first alternating by phase and round (${systems[0]} first in put1)`
    : `  order: one system after the other, each alone on the machine: ${systems.join(' then ')}`,
);
if (cpuProfDir) console.log(`  CPU profiles of the Tessera servers go to ${cpuProfDir}`);
if (values.keep) console.log(`  --keep: ${root} (data directories and server logs) is left in place`);

try {
  // Resolve etcd first (it may need apt-get), so an install failure ends the run before anything is measured.
  if (systems.includes('etcd')) {
    try {
      const b = ensureEtcd(path.join(os.tmpdir(), 'compare-etcd-apt.log'));
      etcdBin = b;
      etcdVersion = b.version;
      console.log(`  etcd ${b.version} (${b.bin}${b.installed ? ', installed now with apt-get' : ''})`);
    } catch (e) {
      if (e instanceof EtcdInstallError) {
        console.error(`compare-etcd: etcd is needed and could not be installed: ${e.message}`);
        cleanupNow();
        process.exit(2);
      }
      throw e;
    }
  }
  if (alternate && systems.length === 2) {
    const drivers: Driver[] = [];
    try {
      for (const s of systems) drivers.push(await start(s));
      for (const d of drivers) await fill(d);
      for (let round = 0; round < rounds; round++) {
        for (const [i, phase] of PHASES.entries()) {
          // Who goes first alternates from phase to phase and, for a phase, from round to round.
          const pair = (round + i) % 2 === 0 ? drivers : [...drivers].reverse();
          for (const d of pair) await runPhase(d, phase);
        }
      }
    } finally {
      for (const d of drivers) await d.stop();
    }
  } else {
    for (const s of systems) {
      console.log(`${s}:`);
      const d = await start(s);
      try {
        await fill(d);
        for (let round = 0; round < rounds; round++) for (const phase of PHASES) await runPhase(d, phase);
      } finally {
        await d.stop();
      }
    }
  }
} finally {
  // The clusters were stopped above; this kills anything an error left behind.
  cleanupNow();
}

// --- report ---
/** The round with the median ops/s (the only one when rounds = 1). */
const pickResult = (s: System, p: Phase): PhaseOut | null => {
  const all = results.get(s)?.get(p);
  if (!all || all.length === 0) return null;
  return [...all].sort((a, b) => a.opsPerSec - b.opsPerSec)[Math.floor((all.length - 1) / 2)]!;
};
const rate = (s: System, p: Phase): number | null => pickResult(s, p)?.opsPerSec ?? null;
const round = (n: number | null, d = 0): number | null => (n === null ? null : Number(n.toFixed(d)));
const label: Record<Phase, string> = {
  put1: 'put, 1 client (sequential)',
  put64: `put, ${concurrency} concurrent`,
  get1: 'get linearizable, 1 client',
  get64: `get linearizable, ${concurrency} concurrent`,
};
console.log('');
if (rounds > 1) console.log(`median of ${rounds} rounds by ops/s (the lower one of the middle two for an even count; latencies and CPU of that round)`);
console.log(
  `${'phase'.padEnd(32)} ${'system'.padEnd(8)} ${'ops/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ` +
    `${'srv CPU'.padStart(8)} ${'cli CPU'.padStart(8)} ${'other'.padStart(6)} ${'tessera/etcd'.padStart(13)}`,
);
for (const p of PHASES) {
  for (const s of SYSTEMS) {
    const r = pickResult(s, p);
    if (!r) continue;
    const t = rate('tessera', p);
    const e = rate('etcd', p);
    const ratio = s === 'etcd' && t !== null && e !== null ? (t / e).toFixed(2) : '';
    console.log(
      `${label[p].padEnd(32)} ${s.padEnd(8)} ${fmtRate(r.opsPerSec).padStart(9)} ${fmtMs(r.p50Ms).padStart(8)} ${fmtMs(r.p99Ms).padStart(8)} ${String(r.errors).padStart(7)} ` +
        `${`${r.serverCpuPct.toFixed(0)}%`.padStart(8)} ${`${r.clientCpuPct.toFixed(0)}%`.padStart(8)} ${`${r.otherCpuPct.toFixed(0)}%`.padStart(6)} ${ratio.padStart(13)}`,
    );
  }
}
console.log(
  `(CPU: % of one core over the phase, ${os.cpus().length} cores in all: srv = that system's 3 server processes, cli = this Node process driving the load, ` +
    `other = everything else on the machine${alternate && systems.length === 2 ? ', the idle other cluster included' : ''})`,
);
const busy = [...results.values()].flatMap((m) => [...m.values()].flat()).filter((r) => r.otherCpuPct > 25).length;
if (busy > 0) console.log(`WARNING: in ${busy} phase(s) other processes used more than 25% of a core: the machine was not quiet, figures are noisy`);
for (const n of notes) console.log(`note: ${n}`);

const summary = (s: System) =>
  results.has(s)
    ? {
        put1: round(rate(s, 'put1')),
        put64: round(rate(s, 'put64')),
        get1: round(rate(s, 'get1')),
        get64: round(rate(s, 'get64')),
        p99Put64Ms: round(pickResult(s, 'put64')?.p99Ms ?? null, 2),
      }
    : null;
const ratio = (p: Phase) => {
  const t = rate('tessera', p);
  const e = rate('etcd', p);
  return t !== null && e !== null && e > 0 ? round(t / e, 3) : null;
};
const out = {
  etcdVersion,
  order: alternate && systems.length === 2 ? `alternate:${systems.join(',')}` : systems.join(','),
  tessera: summary('tessera'),
  etcd: summary('etcd'),
  writeRatio64: ratio('put64'),
  readRatio64: ratio('get64'),
};
console.log('');
console.log(`writeRatio64 = tessera put64 / etcd put64 = ${out.writeRatio64 ?? '-'}; readRatio64 = ${out.readRatio64 ?? '-'} (above 1: Tessera ahead)`);
console.log(JSON.stringify(out));
