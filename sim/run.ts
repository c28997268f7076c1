/**
 * One simulated run from a seed: a safety phase with faults, then a liveness phase that heals
 * everything and must make progress, then the checkers. Every run replays bit-for-bit from its
 * seed (and explicit schedule, if given); `traceHash` proves it.
 */
import { EntryType } from '../src/raft/types.ts';
import { checkLinearizable, describeFailure } from './check/linearizability.ts';
import type { HistoryEvent } from './check/history.ts';
import { Nemesis, type FaultKind, type TimedAction, describeAction, NORMAL_DELAY_MS } from './cluster/nemesis.ts';
import type { SimStore } from './cluster/node-storage.ts';
import { SimCluster, type SimTimings } from './cluster/sim-cluster.ts';
import type { TimelineEvent } from './cluster/timeline.ts';
import { SeededRandom } from './core/random.ts';
import { Simulator, US_PER_MS } from './core/simulator.ts';
import { TraceHash } from './core/trace.ts';
import { SimNetwork } from './net/sim-network.ts';
import { DEFAULT_WORKLOAD, KvWorkload, type WorkloadOptions } from './workload/kv-workload.ts';
import { DEFAULT_MODEL_WORKLOAD, ModelWorkload, type ModelWorkloadOptions, type ModelWorkloadStats } from './workload/model-workload.ts';

/** Which clients a run drives: key-value operations, model saves and loads, or both at once. */
export const WORKLOAD_KINDS = ['kv', 'models', 'both'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface SimRunOptions {
  readonly seed: number;
  readonly nodes: number;
  /** Client operations in all; a fifth of them run after healing. */
  readonly ops: number;
  readonly faults: ReadonlySet<FaultKind>;
  /** Explicit fault schedule (times from the start, ms). Without it faults are drawn from the seed. */
  readonly schedule?: readonly TimedAction[];
  /** Mean time between random faults (ms). */
  readonly nemesisEveryMs?: number;
  readonly timings?: Partial<SimTimings>;
  readonly workload?: Partial<WorkloadOptions>;
  /** 'kv' (default), 'models' (model-workload.ts) or 'both'; each workload runs `ops` operations. */
  readonly workloadKind?: WorkloadKind;
  readonly models?: Partial<ModelWorkloadOptions>;
  readonly onEvent?: (e: TimelineEvent) => void;
  /** Simulated time limit for the liveness phase (ms). */
  readonly livenessLimitMs?: number;
  /** Called once before the run starts, e.g. to schedule periodic sampling events. */
  readonly observe?: (cluster: SimCluster, sim: Simulator) => void;
  /**
   * 'memory' (default): the memory twins on simulated disks. 'lmdb': the LMDB stores, durable
   * synchronous commits in a temporary directory removed at the end of the run; no torn writes
   * or bit flips then (the nemesis leaves them out).
   */
  readonly store?: SimStore;
  /** Where an LMDB run makes its temporary directory (default: the system's, $TMPDIR). */
  readonly storeDir?: string;
}

export interface SimRunResult {
  readonly seed: number;
  readonly ops: number;
  readonly acked: number;
  readonly info: number;
  readonly violations: string[];
  readonly traceHash: string;
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly events: number;
  readonly history: HistoryEvent[];
  readonly faults: TimedAction[];
  readonly elections: number;
  /** Simulated ms from each leader crash to the next committed client write of a later term. */
  readonly failoverMs: number[];
  /** Snapshots installed by followers (sent by a leader). */
  readonly snapshotsInstalled: number;
  /** What the model workload did, when it ran. */
  readonly models?: ModelWorkloadStats;
}

export function runSimulation(o: SimRunOptions): SimRunResult {
  // The cluster is released however the run ends: an LMDB run's directory must not outlive it.
  const opened: SimCluster[] = [];
  try {
    return simulate(o, opened);
  } finally {
    for (const c of opened) c.close();
  }
}

function simulate(o: SimRunOptions, opened: SimCluster[]): SimRunResult {
  const wallStart = performance.now(); // wall-clock-ok: reporting only
  const random = new SeededRandom(o.seed);
  const sim = new Simulator();
  const trace = new TraceHash();
  const network = new SimNetwork({ sim, random, trace, faults: { delayMs: NORMAL_DELAY_MS } });
  const violations: string[] = [];
  let meter: ReturnType<typeof failoverMeter> | null = null;
  let snapshotsInstalled = 0;
  const emit = (e: TimelineEvent) => {
    if (e.kind === 'snapshot') snapshotsInstalled++;
    meter?.onEvent(e);
    o.onEvent?.(e);
  };
  const cluster = new SimCluster({ sim, network, random, trace, nodes: o.nodes, timings: o.timings, onEvent: emit, store: o.store, storeDir: o.storeDir });
  opened.push(cluster);
  const workload = new KvWorkload(sim, cluster, cluster.checker, random, {
    ...DEFAULT_WORKLOAD,
    ...o.workload,
    leaseReads: cluster.timings.leaseReads !== null && (o.workload?.leaseReads ?? DEFAULT_WORKLOAD.leaseReads),
  });
  const kind = o.workloadKind ?? 'kv';
  const models = kind === 'kv' ? null : new ModelWorkload(sim, cluster, cluster.checker, random, { ...DEFAULT_MODEL_WORKLOAD, ...o.models });
  // The kv workload alone drives a default run exactly as before this option existed.
  const clients: Clients[] = [...(kind === 'models' ? [] : [workload]), ...(models ? [models] : [])];
  const runClients = (ops: number, strict = false) => {
    for (const c of clients) c.run(ops, strict);
  };
  const idle = () => clients.every((c) => c.idle);
  const opTimeoutMs = Math.max(...clients.map((c) => c.opts.opTimeoutMs));
  meter = failoverMeter(cluster);
  const nemesis = new Nemesis(sim, cluster, network, random, o.faults, (text) => emit({ at: sim.nowMs(), kind: 'nemesis', detail: text }));
  const electionMs = cluster.timings.tickMs * cluster.timings.electionTick;
  o.observe?.(cluster, sim);

  const guard = (phase: string, run: () => void): boolean => {
    try {
      run();
      return true;
    } catch (e) {
      // A failed assertion inside node code: the simulation stops here, loudly.
      violations.push(`${phase}: ${(e as Error).stack ?? String(e)}`);
      return false;
    }
  };

  const safetyOps = o.ops - Math.floor(o.ops / 5);
  let ok = guard('safety phase', () => {
    emit({ at: sim.nowMs(), kind: 'phase', detail: 'safety phase: faults on' });
    if (o.schedule) nemesis.runSchedule(o.schedule);
    else nemesis.runRandom(o.nemesisEveryMs ?? electionMs);
    runClients(safetyOps);
    const budget = phaseBudget(sim, safetyOps * clients.length, opTimeoutMs);
    sim.run({ until: budget.until, maxEvents: budget.events, stopWhen: idle });
    if (!idle()) violations.push(`safety phase did not finish within ${budget.events} events / ${budget.until / US_PER_MS} ms: livelock?`);
  });

  const livenessLimitUs = (o.livenessLimitMs ?? 60_000) * US_PER_MS;
  if (ok) {
    ok = guard('liveness phase', () => {
      emit({ at: sim.nowMs(), kind: 'phase', detail: 'liveness phase: everything healed' });
      nemesis.stopAndHeal();
      const deadline = sim.now() + livenessLimitUs;
      runClients(o.ops - safetyOps, true);
      sim.run({ until: deadline, maxEvents: phaseBudget(sim, (o.ops - safetyOps) * clients.length, opTimeoutMs).events, stopWhen: idle });
      if (!idle()) violations.push(`liveness: operations still pending ${o.livenessLimitMs ?? 60_000} ms after healing`);
      // Converge: every live node applies everything committed.
      const target = cluster.checker.committedIndex;
      const caughtUp = () => cluster.upNodes().every((id) => (cluster.stateMachine(id)?.appliedIndex() ?? 0) >= target);
      sim.run({ until: sim.now() + livenessLimitUs, stopWhen: caughtUp });
      for (const c of clients) c.finalReads();
      sim.run({ until: sim.now() + livenessLimitUs, stopWhen: idle });
      cluster.checker.checkCaughtUp(cluster.upNodes(), (id) => cluster.stateMachine(id)?.appliedIndex() ?? 0, target);
      cluster.checker.checkLogMatching(cluster.upNodes());
      cluster.checker.checkAcknowledged();
      for (const c of clients) violations.push(...c.strictFailures);
    });
  }
  if (violations.length > 0 || cluster.checker.violations.length > 0) violations.push(`node status at the end: ${cluster.describe()}`);
  violations.push(...cluster.checker.violations);
  if (ok) {
    const lin = checkLinearizable(workload.history, { timeoutMs: 20_000 });
    if (lin.ok !== true) violations.push(`linearizability: ${describeFailure(lin)}`);
  }
  if (violations.length > 0 && nemesis.applied.length > 0) {
    violations.push(`faults applied: ${nemesis.applied.map((t) => `${t.atMs.toFixed(0)}ms ${describeAction(t.action)}`).join('; ')}`);
  }
  return {
    seed: o.seed,
    ops: workload.history.filter((e) => e.type === 'invoke').length + (models?.invoked ?? 0),
    acked: workload.acked + (models?.acked ?? 0),
    info: workload.infoCount,
    violations,
    traceHash: trace.hex(),
    simulatedMs: Math.round(sim.nowMs()),
    wallMs: Math.round(performance.now() - wallStart), // wall-clock-ok: reporting only
    events: sim.eventsRun,
    history: workload.history,
    faults: nemesis.applied,
    elections: cluster.checker.elections.length,
    failoverMs: meter.results(),
    snapshotsInstalled,
    ...(models ? { models: models.stats } : {}),
  };
}

/** What the runner needs of a client workload (KvWorkload and ModelWorkload both are one). */
interface Clients {
  readonly opts: { readonly opTimeoutMs: number };
  run(ops: number, strict?: boolean): void;
  readonly idle: boolean;
  /** After healing and catching up: last reads (and end-state checks) that must succeed. */
  finalReads(): void;
  readonly strictFailures: readonly string[];
}

/**
 * Bounds a phase so that no bug can make the simulator spin forever: every operation gets its
 * timeout several times over in simulated time, and a generous number of events.
 */
function phaseBudget(sim: Simulator, ops: number, opTimeoutMs: number): { until: number; events: number } {
  return { until: sim.now() + Math.max(120_000, ops * opTimeoutMs) * US_PER_MS, events: 1_000_000 + ops * 5_000 };
}

/**
 * Measures, for each crash of a leader, the simulated time until a client write of a later term
 * commits (is applied anywhere): the cluster's recovery time, client retry delays excluded.
 */
function failoverMeter(cluster: SimCluster): { onEvent: (e: TimelineEvent) => void; results: () => number[] } {
  const out: number[] = [];
  let crash: { at: number; term: number } | null = null;
  cluster.onApplied = (_node, entries) => {
    if (!crash) return;
    const c = crash;
    if (entries.some((e) => e.type === EntryType.Normal && e.term > c.term)) {
      out.push(cluster.nowMs() - c.at);
      crash = null;
    }
  };
  return {
    onEvent: (e) => {
      if (e.kind === 'crash' && e.wasLeader && !crash) crash = { at: e.at, term: e.term };
    },
    results: () => out,
  };
}
