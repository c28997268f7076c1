/**
 * The harness's nemesis: real faults on real processes, one at a time, drawn from a seed.
 *
 * faultSchedule() is pure: the same options give the same list of steps (kind, node, whether to
 * aim at the leader, quiet gap before, duration, and for the network faults the shape of the
 * cut), bounded in count (MAX_FAULTS) and in total time (the steps' gaps and durations sum to at
 * most `totalMs`). Nemesis.run() plays it in real time:
 * - kill: SIGKILL, down for the duration, then restart with the same directory and flags;
 * - pause: SIGSTOP for the duration, then SIGCONT;
 * - partition, oneway, bridge: the directed peer links that cuts.ts plans for the step are cut
 *   (proxy-mesh.ts) for the duration, then every link is healed. partition cuts the node off both
 *   ways; oneway cuts one direction between it and some or all of the others; bridge splits the
 *   cluster into two sides that reach each other only through one bridge node.
 * Each fault is undone before the next begins, so at most one node is down or paused, or one cut
 * is in force, at any time; every cut leaves a majority connected both ways, so a cluster of 3 or
 * more keeps a quorum apart from elections. What actually happens (which node was the leader,
 * restart times, hence which links a step aimed at the leader cuts) depends on the running
 * cluster; the schedule does not.
 */
import { SeededRandom } from '../sim/core/random.ts';
import type { NodeId } from '../src/raft/types.ts';
import { drawCutShape, LINK_FAULT_KINDS, planCut, type CutShape, type Link, type LinkFaultKind } from './cuts.ts';
import { nowMs, sleep } from './time.ts';

export const FAULT_KINDS = ['kill', 'pause', 'partition', 'oneway', 'bridge'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Most steps in one schedule, however long the run. */
export const MAX_FAULTS = 10_000;
/** Quiet time before each fault (ms). */
export const DEFAULT_GAP_MS = Object.freeze({ min: 500, max: 2_500 });
/** How long each fault lasts (ms). */
export const DEFAULT_DURATION_MS = Object.freeze({ min: 1_000, max: 4_000 });
/** A fault is not begun with less than this left before the deadline (timers may fire a little early). */
export const MIN_FAULT_MS = 100;
/** Chance that a step aims at whichever node leads when it starts (else at its drawn node). */
export const DEFAULT_LEADER_CHANCE = 0.5;

export interface FaultStep {
  readonly kind: FaultKind;
  /** The drawn node; also the fallback when the step aims at the leader and none is known. */
  readonly node: NodeId;
  readonly atLeader: boolean;
  readonly gapMs: number;
  readonly durationMs: number;
  /** partition, oneway and bridge: which links to cut, once the node is known (cuts.ts). */
  readonly shape?: CutShape;
}

export interface ScheduleOptions {
  readonly seed: number;
  readonly kinds: readonly FaultKind[];
  readonly ids: readonly NodeId[];
  /** The steps' gaps and durations add up to at most this (ms). */
  readonly totalMs: number;
  readonly gapMs?: { readonly min: number; readonly max: number };
  readonly durationMs?: { readonly min: number; readonly max: number };
  readonly leaderChance?: number;
}

export function parseFaultKinds(text: string): FaultKind[] {
  const t = text.trim();
  if (t === '' || t === 'none') return [];
  if (t === 'all') return [...FAULT_KINDS];
  const kinds = t.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new RangeError(`unknown nemesis ${JSON.stringify(k)} (kinds: ${FAULT_KINDS.join(', ')}, all, none)`);
  }
  return [...new Set(kinds as FaultKind[])];
}

export function faultSchedule(o: ScheduleOptions): FaultStep[] {
  const gap = o.gapMs ?? DEFAULT_GAP_MS;
  const dur = o.durationMs ?? DEFAULT_DURATION_MS;
  const leaderChance = o.leaderChance ?? DEFAULT_LEADER_CHANCE;
  for (const [what, r] of [['gapMs', gap], ['durationMs', dur]] as const) {
    if (!(Number.isSafeInteger(r.min) && Number.isSafeInteger(r.max) && r.min >= 0 && r.max >= r.min)) throw new RangeError(`${what} must be integers 0 <= min <= max`);
  }
  if (dur.min < 1) throw new RangeError('durationMs.min must be at least 1 (a step must take time, or the schedule would be unbounded)');
  if (o.kinds.length === 0 || o.ids.length === 0 || !(o.totalMs > 0)) return [];
  const random = new SeededRandom(o.seed).fork('harness-nemesis');
  // Shapes come from a stream of their own, one shape per step whatever its kind: the main stream
  // (and so every schedule drawn before oneway and bridge existed) is unchanged, and a step's
  // shape does not depend on which kinds are enabled.
  const shapes = new SeededRandom(o.seed).fork('harness-nemesis-cuts');
  const steps: FaultStep[] = [];
  let used = 0;
  while (steps.length < MAX_FAULTS) {
    // A fixed number of draws per step, so one option never shifts the stream of another.
    const kind = random.pick(o.kinds);
    const node = random.pick(o.ids);
    const atLeader = random.chance(leaderChance);
    const gapMs = random.range(gap.min, gap.max);
    const durationMs = random.range(dur.min, dur.max);
    const shape = drawCutShape(shapes, o.ids.length);
    if (used + gapMs + durationMs > o.totalMs) break;
    used += gapMs + durationMs;
    steps.push(isLinkFault(kind) ? { kind, node, atLeader, gapMs, durationMs, shape } : { kind, node, atLeader, gapMs, durationMs });
  }
  return steps;
}

/** What the nemesis does to the cluster (cluster-procs.ts and proxy-mesh.ts, or fakes in tests). */
export interface NemesisTarget {
  kill(id: NodeId): Promise<void>;
  restart(id: NodeId): Promise<void>;
  pause(id: NodeId): void;
  resume(id: NodeId): void;
  /** Cuts exactly these directed peer links (both ways needs both links). */
  cut(links: readonly Link[]): void;
  /** Restores every link. */
  heal(): void;
  /** The node that leads now, 0 if unknown (asked at the start of a step aimed at the leader). */
  leader(): Promise<NodeId>;
}

export interface AppliedFault {
  readonly kind: FaultKind;
  readonly node: NodeId;
  readonly wasLeader: boolean;
  /** The links cut (partition, oneway, bridge); empty for kill and pause. */
  readonly links: readonly Link[];
  /** From the start of run() (ms). */
  readonly atMs: number;
  /** How long the fault was in force, its undoing included (ms). */
  readonly heldMs: number;
}

export type FaultCounts = Record<FaultKind, number>;

export function zeroCounts(): FaultCounts {
  return { kill: 0, pause: 0, partition: 0, oneway: 0, bridge: 0 };
}

export function isLinkFault(kind: FaultKind): kind is LinkFaultKind {
  return (LINK_FAULT_KINDS as readonly string[]).includes(kind);
}

/** "kill 1 pause 0 ..." for progress lines. */
export function describeCounts(c: FaultCounts): string {
  return FAULT_KINDS.map((k) => `${k} ${c[k]}`).join(' ');
}

export class Nemesis {
  readonly counts: FaultCounts = zeroCounts();
  readonly applied: AppliedFault[] = [];
  /** Faults that could not be undone (a node that would not restart): the run reports them. */
  readonly problems: string[] = [];

  /** `ids`: the cluster's nodes, which the network faults' links are planned over. */
  constructor(
    private readonly steps: readonly FaultStep[],
    private readonly ids: readonly NodeId[],
    private readonly target: NemesisTarget,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /**
   * Plays the schedule until it ends, `deadline` (a nowMs() value) passes, or `signal` aborts.
   * A fault in force when the deadline passes or the signal aborts is cut short and undone.
   * Resolves after the last fault is undone; never rejects (failures go to `problems`).
   */
  async run(deadline: number, signal?: AbortSignal): Promise<void> {
    const start = nowMs();
    for (const step of this.steps) {
      await sleep(Math.min(step.gapMs, deadline - nowMs()), signal);
      if (signal?.aborted || deadline - nowMs() < MIN_FAULT_MS) return;
      let node = step.node;
      let wasLeader = false;
      if (step.atLeader) {
        const leader = await this.target.leader().catch(() => 0);
        if (leader !== 0 && this.ids.includes(leader)) [node, wasLeader] = [leader, true];
      }
      if (signal?.aborted || deadline - nowMs() < MIN_FAULT_MS) return;
      let links: readonly Link[] = [];
      let detail = '';
      if (isLinkFault(step.kind)) {
        if (step.shape === undefined) {
          this.problems.push(`${step.kind} step without a cut shape`);
          return;
        }
        let plan;
        try {
          plan = planCut(step.kind, node, this.ids, step.shape);
        } catch (e) {
          // A schedule drawn for other ids: a harness bug, reported rather than thrown.
          this.problems.push(`could not plan ${step.kind} node ${node}: ${(e as Error).message}`);
          return;
        }
        if (plan.links.length === 0) {
          // Nothing to cut (a bridge needs 3 nodes, a partition 2): not a fault, so not counted.
          this.log(`nemesis: ${step.kind} node ${node} skipped: ${plan.text}`);
          continue;
        }
        links = plan.links;
        detail = `: ${plan.text}`;
      }
      const atMs = nowMs() - start;
      const what = `${step.kind} node ${node}${wasLeader ? ' (leader)' : ''} for ${step.durationMs} ms${detail}`;
      this.log(`nemesis: ${what}`);
      try {
        await this.apply(step.kind, node, links);
      } catch (e) {
        this.problems.push(`could not ${step.kind} node ${node}: ${(e as Error).message}`);
        return;
      }
      this.counts[step.kind]++;
      await sleep(Math.min(step.durationMs, deadline - nowMs()), signal);
      try {
        await this.undo(step.kind, node);
      } catch (e) {
        this.problems.push(`could not undo ${what}: ${(e as Error).message}`);
        return;
      } finally {
        this.applied.push({ kind: step.kind, node, wasLeader, links, atMs: Math.round(atMs), heldMs: Math.round(nowMs() - start - atMs) });
      }
      this.log(`nemesis: ${step.kind} node ${node} undone`);
    }
  }

  private async apply(kind: FaultKind, node: NodeId, links: readonly Link[]): Promise<void> {
    switch (kind) {
      case 'kill':
        return this.target.kill(node);
      case 'pause':
        return this.target.pause(node);
      case 'partition':
      case 'oneway':
      case 'bridge':
        return this.target.cut(links);
    }
  }

  private async undo(kind: FaultKind, node: NodeId): Promise<void> {
    switch (kind) {
      case 'kill':
        return this.target.restart(node);
      case 'pause':
        return this.target.resume(node);
      case 'partition':
      case 'oneway':
      case 'bridge':
        return this.target.heal();
    }
  }
}
