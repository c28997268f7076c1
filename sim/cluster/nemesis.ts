/**
 * The nemesis injects faults as explicit actions. A run's faults are either an explicit
 * schedule (what fast-check generates and shrinks) or drawn at run time from the seed by a
 * state-aware generator (what seed sweeps use). Both go through `apply`, and every applied
 * action is recorded, so a failing run can print the schedule that broke it.
 */
import type { NodeId } from '../../src/raft/types.ts';
import type { SeededRandom } from '../core/random.ts';
import { ENVIRONMENT, type Simulator, US_PER_MS } from '../core/simulator.ts';
import type { SimNetwork } from '../net/sim-network.ts';
import type { SimCluster } from './sim-cluster.ts';

export const FAULT_KINDS = [
  'drop',
  'duplicate',
  'delay',
  'reorder',
  'partition',
  'oneway',
  'partial',
  'crash',
  'pause',
  'skew',
  'torn',
  'bitflip',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults of the simulated disk, which real LMDB stores cannot be subjected to. */
export const DISK_FAULTS: readonly FaultKind[] = ['torn', 'bitflip'];

/** Largest clock drift the nemesis applies (5%): two clocks then differ in rate by at most 10%. */
export const MAX_DRIFT_PPM = 50_000;

/** One-way latency without faults (ms): a LAN. */
export const NORMAL_DELAY_MS = { min: 0.1, max: 2 } as const;

export function parseFaults(spec: string): Set<FaultKind> {
  if (spec === 'all') return new Set(FAULT_KINDS);
  if (spec === 'none' || spec === '') return new Set();
  const out = new Set<FaultKind>();
  for (const part of spec.split(',')) {
    const k = part.trim() as FaultKind;
    if (!FAULT_KINDS.includes(k)) throw new Error(`unknown fault '${part}' (known: ${FAULT_KINDS.join(', ')}, all, none)`);
    out.add(k);
  }
  return out;
}

/** Node 0 in crash/isolate/pause means "whoever leads at that moment". */
export type NemesisAction =
  | { readonly kind: 'crash'; readonly node: NodeId }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'pause'; readonly node: NodeId }
  | { readonly kind: 'resume'; readonly node: NodeId }
  | { readonly kind: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly kind: 'isolate'; readonly node: NodeId }
  | { readonly kind: 'oneway'; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'partial'; readonly node: NodeId; readonly peers: readonly NodeId[] }
  | { readonly kind: 'heal' }
  | {
      readonly kind: 'network';
      readonly dropRate: number;
      readonly duplicateRate: number;
      readonly longDelayRate: number;
      /** Upper bound of the usual one-way latency (ms). */
      readonly maxDelayMs: number;
    }
  /** Clock rate drift. Node clocks are monotonic (as in production): they drift, they never jump. */
  | { readonly kind: 'skew'; readonly node: NodeId; readonly driftPpm: number }
  | { readonly kind: 'flipBit'; readonly node: NodeId };

export interface TimedAction {
  readonly atMs: number;
  readonly action: NemesisAction;
}

export function describeAction(a: NemesisAction): string {
  switch (a.kind) {
    case 'partition':
      return `partition ${a.groups.map((g) => `{${g.join(',')}}`).join(' | ')}`;
    case 'oneway':
      return `block ${a.from} -> ${a.to}`;
    case 'partial':
      return `node ${a.node} reaches only {${a.peers.join(',')}}`;
    case 'network':
      return `network drop=${a.dropRate.toFixed(2)} dup=${a.duplicateRate.toFixed(2)} longDelay=${a.longDelayRate.toFixed(2)} maxDelay=${a.maxDelayMs}ms`;
    case 'skew':
      return `node ${a.node} clock drift ${a.driftPpm} ppm`;
    case 'heal':
      return 'heal network';
    default:
      return `${a.kind} node ${a.node === 0 ? 'leader' : a.node}`;
  }
}

export class Nemesis {
  readonly applied: TimedAction[] = [];
  private active = false;
  /** Nodes whose disk was corrupted: at most one, so a quorum can always come back. */
  private readonly corrupted = new Set<NodeId>();
  private readonly rng: SeededRandom;
  private readonly faults: ReadonlySet<FaultKind>;

  constructor(
    private readonly sim: Simulator,
    private readonly cluster: SimCluster,
    private readonly network: SimNetwork,
    random: SeededRandom,
    faults: ReadonlySet<FaultKind>,
    private readonly log: (text: string) => void = () => {},
  ) {
    this.rng = random.fork('nemesis');
    // Never drawn where they cannot happen, rather than drawn and silently not applied.
    this.faults = cluster.diskFaults ? faults : new Set([...faults].filter((f) => !DISK_FAULTS.includes(f)));
  }

  /** Schedules an explicit list of actions (times relative to now). */
  runSchedule(schedule: readonly TimedAction[]): void {
    this.active = true;
    for (const t of schedule) {
      this.sim.schedule(Math.round(t.atMs * US_PER_MS), ENVIRONMENT, () => {
        if (this.active) this.apply(t.action);
      });
    }
  }

  /** Draws actions from the seed until stopped, every `everyMs` on average. */
  runRandom(everyMs: number): void {
    if (this.faults.size === 0) return;
    this.active = true;
    const next = () => {
      const delay = Math.round(everyMs * (0.25 + 1.5 * this.rng.nextFloat()) * US_PER_MS);
      this.sim.schedule(delay, ENVIRONMENT, () => {
        if (!this.active) return;
        const a = this.draw();
        if (a) this.apply(a);
        next();
      });
    };
    next();
  }

  /** Ends the fault phase: heals the network, resumes and restarts everything that can run. */
  stopAndHeal(): void {
    this.active = false;
    this.apply({ kind: 'heal' });
    this.apply({ kind: 'network', dropRate: 0, duplicateRate: 0, longDelayRate: 0, maxDelayMs: NORMAL_DELAY_MS.max });
    for (const id of this.cluster.ids) {
      if (this.cluster.isPaused(id)) this.apply({ kind: 'resume', node: id });
      if (this.cluster.state(id) === 'down') this.apply({ kind: 'restart', node: id });
      this.sim.setSkew(id, { driftPpm: 0 });
    }
  }

  apply(action: NemesisAction): void {
    const c = this.cluster;
    const resolve = (n: NodeId) => (n === 0 ? c.leader() : n);
    let did = true;
    switch (action.kind) {
      case 'crash': {
        const n = resolve(action.node);
        did = n !== 0 && c.state(n) === 'up';
        if (did) c.crash(n, { tear: this.faults.has('torn') });
        break;
      }
      case 'restart':
        did = c.state(action.node) === 'down';
        if (did) c.start(action.node);
        break;
      case 'pause': {
        const n = resolve(action.node);
        did = n !== 0 && c.state(n) === 'up' && !c.isPaused(n);
        if (did) c.pause(n);
        break;
      }
      case 'resume':
        did = c.isPaused(action.node);
        if (did) c.resume(action.node);
        break;
      case 'partition':
        this.network.partition(action.groups);
        break;
      case 'isolate': {
        const n = resolve(action.node);
        did = n !== 0;
        if (did) this.network.isolate(n);
        break;
      }
      case 'oneway':
        this.network.block(action.from, action.to);
        break;
      case 'partial':
        this.network.connectOnly(action.node, action.peers);
        break;
      case 'heal':
        this.network.heal();
        break;
      case 'network':
        this.network.configure({
          dropRate: action.dropRate,
          duplicateRate: action.duplicateRate,
          longDelayRate: action.longDelayRate,
          delayMs: { min: NORMAL_DELAY_MS.min, max: Math.max(NORMAL_DELAY_MS.max, action.maxDelayMs) },
        });
        break;
      case 'skew':
        this.sim.setSkew(action.node, { driftPpm: action.driftPpm });
        break;
      case 'flipBit':
        did =
          c.state(action.node) === 'down' &&
          (this.corrupted.size === 0 || this.corrupted.has(action.node)) &&
          c.flipBit(action.node) !== null;
        if (did) this.corrupted.add(action.node);
        break;
    }
    if (!did) return;
    this.applied.push({ atMs: this.sim.nowMs(), action });
    this.log(describeAction(action));
  }

  /** A fault suited to the cluster's current state, or null. */
  private draw(): NemesisAction | null {
    const c = this.cluster;
    const r = this.rng;
    const n = c.ids.length;
    const f = Math.floor((n - 1) / 2);
    const down = c.ids.filter((id) => c.state(id) === 'down');
    const paused = c.ids.filter((id) => c.isPaused(id));
    const up = c.ids.filter((id) => c.state(id) === 'up' && !c.isPaused(id));
    const unavailable = n - up.length;
    const options: Array<() => NemesisAction | null> = [];
    const has = (k: FaultKind) => this.faults.has(k);

    if (has('crash')) {
      if (down.length > 0) options.push(() => ({ kind: 'restart', node: r.pick(down) }), () => ({ kind: 'restart', node: r.pick(down) }));
      // Up to f+1 nodes out: sometimes the cluster must lose its quorum too.
      if (unavailable <= f && up.length > 0) options.push(() => ({ kind: 'crash', node: r.chance(0.4) ? 0 : r.pick(up) }));
      if (has('bitflip') && down.length > 0) options.push(() => ({ kind: 'flipBit', node: r.pick(down) }));
    }
    if (has('pause')) {
      if (paused.length > 0) options.push(() => ({ kind: 'resume', node: r.pick(paused) }));
      if (unavailable <= f && up.length > 0) options.push(() => ({ kind: 'pause', node: r.chance(0.4) ? 0 : r.pick(up) }));
    }
    if (has('partition')) {
      options.push(() => ({ kind: 'partition', groups: randomSplit(r, c.ids) }));
      options.push(() => ({ kind: 'isolate', node: r.chance(0.5) ? 0 : r.pick(c.ids) }));
    }
    if (has('oneway')) options.push(() => twoDistinct(r, c.ids, (a, b) => ({ kind: 'oneway', from: a, to: b })));
    if (has('partial')) {
      options.push(() => {
        const node = r.pick(c.ids);
        const others = c.ids.filter((id) => id !== node);
        return { kind: 'partial', node, peers: others.filter(() => r.chance(0.5)) };
      });
    }
    if (has('partition') || has('oneway') || has('partial')) options.push(() => ({ kind: 'heal' }), () => ({ kind: 'heal' }));
    if (has('drop') || has('duplicate') || has('reorder') || has('delay')) {
      options.push(() => ({
        kind: 'network',
        dropRate: has('drop') && r.chance(0.7) ? r.nextFloat() * 0.3 : 0,
        duplicateRate: has('duplicate') && r.chance(0.7) ? r.nextFloat() * 0.2 : 0,
        longDelayRate: has('reorder') && r.chance(0.7) ? r.nextFloat() * 0.2 : 0,
        maxDelayMs: has('delay') && r.chance(0.7) ? r.range(NORMAL_DELAY_MS.max, 200) : NORMAL_DELAY_MS.max,
      }));
    }
    if (has('skew')) {
      options.push(() => ({ kind: 'skew', node: r.pick(c.ids), driftPpm: r.range(-MAX_DRIFT_PPM, MAX_DRIFT_PPM) }));
    }
    if (options.length === 0) return null;
    return r.pick(options)();
  }
}

function randomSplit(r: SeededRandom, ids: readonly NodeId[]): NodeId[][] {
  const shuffled = r.shuffle([...ids]);
  const cut = 1 + r.nextInt(ids.length - 1);
  return [shuffled.slice(0, cut).sort((a, b) => a - b), shuffled.slice(cut).sort((a, b) => a - b)];
}

function twoDistinct<T>(r: SeededRandom, ids: readonly NodeId[], f: (a: NodeId, b: NodeId) => T): T {
  const a = r.pick(ids);
  const others = ids.filter((id) => id !== a);
  return f(a, r.pick(others));
}
