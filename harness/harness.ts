/**
 * One harness run, start to verdict: real `tessera serve` processes behind a proxy mesh, remote
 * clients recording a history, the nemesis, then heal, converge and check (check.ts).
 *
 *   const run = new HarnessRun(options, console.log);
 *   process.on('exit', () => run.killAllSync());
 *   const result = await run.run(abortSignal);
 *
 * Phases and their bounds (every wait below has one; the CLI adds a hard deadline over all):
 *   setup     start the nodes, a first leader, connect clients        SETUP_BUDGET_MS
 *   run       clients and nemesis together                              --seconds (+ one op timeout)
 *   heal      heal the mesh, SIGCONT / restart any node not running     node start timeout
 *   final     one linearizable read per key, recorded                   FINAL_READS_BUDGET_MS
 *   converge  every node applied everything the leader committed        CONVERGENCE_BUDGET_MS
 *   check     replicas read, linearizability checked                    CHECK_BUDGET_MS
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../src/client/connect.ts';
import type { RemoteClient } from '../src/client/remote-client.ts';
import type { NodeId } from '../src/raft/types.ts';
import { checkHistory, checkReplicas, describeLost, readReplicas, type LinearizabilityVerdict } from './check.ts';
import { ClusterProcs } from './cluster-procs.ts';
import { currentLeader, waitConverged } from './convergence.ts';
import { describeCounts, faultSchedule, Nemesis, zeroCounts, type FaultCounts, type NemesisTarget } from './nemesis.ts';
import type { HarnessOptions } from './options.ts';
import { freePorts, LOOPBACK } from './ports.ts';
import { ProxyMesh } from './proxy-mesh.ts';
import { nowMs, sleep } from './time.ts';
import { DEFAULT_OP_TIMEOUT_MS, HANG_SLACK_MS, Workload } from './workload.ts';

export const SETUP_BUDGET_MS = 60_000;
export const FINAL_READS_BUDGET_MS = 30_000;
export const CONVERGENCE_BUDGET_MS = 30_000;
/** Reading the replicas and the linearizability search, each. */
export const CHECK_BUDGET_MS = 60_000;
/** Between progress lines (ms). */
export const PROGRESS_EVERY_MS = 5_000;

/** A bound on a whole run of `seconds`: every phase's budget, plus slack for process starts and teardown. */
export function hardDeadlineMs(seconds: number, opTimeoutMs: number = DEFAULT_OP_TIMEOUT_MS): number {
  return seconds * 1000 + SETUP_BUDGET_MS + opTimeoutMs + HANG_SLACK_MS + 30_000 + FINAL_READS_BUDGET_MS + CONVERGENCE_BUDGET_MS + 2 * CHECK_BUDGET_MS + 30_000;
}

/** The last line the CLI prints. */
export interface HarnessSummary {
  /** Operations invoked, the final reads included. */
  readonly ops: number;
  /** Writes acknowledged (puts, and cas that succeeded). */
  readonly acked: number;
  /** Acknowledged writes missing from some replica (check.ts defines it). */
  readonly lost: number;
  readonly violations: number;
  readonly faults: FaultCounts;
}

export interface HarnessResult {
  readonly summary: HarnessSummary;
  /** One line per violation (and per lost write, up to a few). */
  readonly problems: readonly string[];
  /** The run could not decide (setup failed, the linearizability search ran out of time): exit 2 unless something failed outright. */
  readonly undecided: string | null;
  readonly dir: string;
  readonly kept: boolean;
  readonly wallMs: number;
}

export class HarnessRun {
  private procs: ClusterProcs | null = null;
  private mesh: ProxyMesh | null = null;
  private workload: Workload | null = null;
  private probe: RemoteClient | null = null;
  private dir = '';

  constructor(
    readonly o: HarnessOptions,
    private readonly log: (line: string) => void,
  ) {}

  /** For 'exit' and signal handlers: SIGKILL every child now (SIGCONT first), without waiting. */
  killAllSync(): void {
    this.procs?.killAllSync();
  }

  /** The run's directory ('' before it is made). */
  get directory(): string {
    return this.dir;
  }

  async run(signal?: AbortSignal): Promise<HarnessResult> {
    const t0 = nowMs();
    const o = this.o;
    const faults = zeroCounts();
    const violations: string[] = [];
    const lostLines: string[] = [];
    let undecided: string | null = null;
    let lost = 0;
    let checkHistoryNow = false;
    let kept = o.keep;
    const ids: NodeId[] = Array.from({ length: o.nodes }, (_, i) => i + 1);
    const at = () => `[${((nowMs() - t0) / 1000).toFixed(1).padStart(6)}s]`;
    const say = (line: string) => this.log(`${at()} ${line}`);

    if (o.dir !== undefined) fs.mkdirSync(o.dir, { recursive: true });
    this.dir = fs.mkdtempSync(path.join(o.dir ?? os.tmpdir(), 'tessera-harness-'));
    const historyFile = o.history ?? path.join(this.dir, 'history.jsonl');
    try {
      // ---- setup
      const setupEnd = nowMs() + SETUP_BUDGET_MS;
      const secretFile = path.join(this.dir, 'secret');
      const secret = new TextEncoder().encode(randomBytes(24).toString('hex'));
      fs.writeFileSync(secretFile, secret, { mode: 0o600 });
      const clusterId = `harness-${o.seed}`;
      const portList = await freePorts(o.nodes);
      const ports = new Map(ids.map((id, i) => [id, portList[i]!] as const));
      this.mesh = await ProxyMesh.start(ids, (id) => ({ host: LOOPBACK, port: ports.get(id)! }));
      const mesh = this.mesh;
      this.procs = new ClusterProcs({ ids, ports, peersFlag: (id) => mesh.peersFlag(id), dir: this.dir, secretFile, clusterId, tickMs: o.tickMs, ...(o.leaseDrift !== undefined && { leaseDrift: o.leaseDrift }), startTimeoutMs: Math.min(30_000, SETUP_BUDGET_MS) });
      const procs = this.procs;
      say(`starting ${o.nodes} nodes in ${this.dir} (ports ${portList.join(', ')}; peers through ${o.nodes * (o.nodes - 1)} proxies), tick ${o.tickMs} ms${o.leaseDrift !== undefined ? `, lease reads (drift ${o.leaseDrift})` : ''}`);
      await procs.startAll();
      const endpoints = ids.map((id) => `${id}=${LOOPBACK}:${ports.get(id)!}`);
      this.probe = await connect({ endpoints, secret, clusterId, discover: false, timeoutMs: 5_000, attemptTimeoutMs: 1_000 });
      const probe = this.probe;
      let leader = 0;
      while (leader === 0 && nowMs() < setupEnd && !signal?.aborted) {
        leader = await currentLeader(probe).catch(() => 0);
        if (leader === 0) await sleep(100, signal);
      }
      if (leader === 0) throw new SetupError(`no leader within the setup budget of ${SETUP_BUDGET_MS} ms`);
      say(`node ${leader} leads; ${o.clients} clients on ${o.keys} keys for ${o.seconds} s; nemesis: ${o.nemesis.length > 0 ? o.nemesis.join(',') : 'none'}; seed ${o.seed}`);
      this.workload = await Workload.open({ endpoints, ids, secret, clusterId, clients: o.clients, keys: o.keys, seed: o.seed, opTimeoutMs: o.opTimeoutMs, leaseReads: o.leaseDrift !== undefined, historyFile });
      const workload = this.workload;

      // ---- run
      const schedule = faultSchedule({ seed: o.seed, kinds: o.nemesis, ids, totalMs: o.seconds * 1000 });
      const target: NemesisTarget = {
        kill: (id) => procs.kill(id),
        restart: (id) => procs.restart(id),
        pause: (id) => procs.pause(id),
        resume: (id) => procs.resume(id),
        cut: (links) => mesh.cut(links, 'blackhole'),
        heal: () => mesh.heal(),
        leader: () => currentLeader(probe),
      };
      const nemesis = new Nemesis(schedule, ids, target, say);
      const runEnd = nowMs() + o.seconds * 1000;
      const progress = setInterval(() => {
        const s = workload.stats;
        say(`ops ${s.invoked} ok ${s.ok} fail ${s.fail} info ${s.info}; faults ${describeCounts(nemesis.counts)}`);
      }, PROGRESS_EVERY_MS);
      try {
        await Promise.all([workload.run(runEnd, signal), nemesis.run(runEnd, signal)]);
      } finally {
        clearInterval(progress);
      }
      Object.assign(faults, nemesis.counts);
      violations.push(...nemesis.problems.map((p) => `nemesis: ${p}`));
      if (signal?.aborted) throw new SetupError('interrupted');

      // ---- heal
      say('healing: every link restored, every node resumed or restarted');
      mesh.heal();
      try {
        await procs.reviveAll();
      } catch (e) {
        // A node that cannot start from its own directory after SIGKILL is a finding, not a harness failure.
        violations.push(`restart: ${(e as Error).message}`);
      }

      // ---- final reads
      const finalReads = await workload.finalReads(FINAL_READS_BUDGET_MS);
      for (const k of workload.keys) if (!finalReads.has(k)) violations.push(`liveness: no final read of ${JSON.stringify(k)} succeeded within ${FINAL_READS_BUDGET_MS} ms after healing`);

      // ---- converge
      const conv = await waitConverged(probe, CONVERGENCE_BUDGET_MS, signal);
      if (conv.ok) say(`converged at index ${conv.index} (leader ${conv.leader}) after ${conv.waitedMs} ms`);
      else violations.push(`liveness: the nodes did not converge within ${CONVERGENCE_BUDGET_MS} ms after healing: ${conv.detail}`);

      // ---- check
      const s = workload.stats;
      say(`history: ${workload.history.length} events, ${s.invoked} ops (ok ${s.ok}, fail ${s.fail} of which ${s.readFail} reads, info ${s.info}), ${workload.acked.length} acknowledged writes, ${workload.processes} processes`);
      if (s.hung > 0) violations.push(`client: ${s.hung} operation(s) did not settle within their timeout + ${HANG_SLACK_MS} ms`);
      for (const e of procs.unexpectedExits) violations.push(`node ${e.id} exited on its own (code ${e.code}, signal ${e.signal}) at ${(e.atMs / 1000).toFixed(1)} s; see ${procs.logFile(e.id)}`);
      if (conv.ok) {
        const replicas = await readReplicas(probe, workload.keys);
        const verdict = checkReplicas({ acked: workload.acked, history: workload.history, replicas, finalReads, leader: conv.leader });
        lost = verdict.lost.length;
        violations.push(...verdict.violations);
        lostLines.push(...describeLost(verdict.lost));
        say(`replicas: ${replicas.map((r) => `node ${r.id} ${countEvents(r.events)} events${r.floor > 1 ? ` (from revision ${r.floor})` : ''}`).join(', ')}; ${lost} lost`);
      }
      checkHistoryNow = true;
    } catch (e) {
      undecided = `harness error: ${e instanceof SetupError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
    } finally {
      await this.teardown();
    }
    if (this.procs !== null) {
      say(`elections won (from the nodes' logs): ${leadershipsWon(this.procs)}`);
    }
    // Offline, after the processes are gone: the search may take a while and needs nothing of them.
    if (checkHistoryNow && this.workload !== null) {
      const lin: LinearizabilityVerdict = checkHistory(this.workload.history, CHECK_BUDGET_MS);
      if (lin.ok === false) violations.push(`linearizability: ${lin.report}`);
      else if (lin.ok === 'unknown') undecided = lin.report;
      say(`linearizability: ${lin.ok === true ? 'ok' : lin.ok === false ? 'VIOLATION' : 'unknown (search budget exhausted)'}`);
    }
    const failed = violations.length > 0 || lost > 0;
    // Kept for a post-mortem when a check failed or the harness broke; not when interrupted on purpose.
    if (failed || (undecided !== null && !signal?.aborted)) kept = true;
    if (!kept) fs.rmSync(this.dir, { recursive: true, force: true });
    const w = this.workload;
    return {
      summary: { ops: w?.stats.invoked ?? 0, acked: w?.acked.length ?? 0, lost, violations: violations.length, faults },
      problems: [...violations, ...lostLines],
      undecided,
      dir: this.dir,
      kept,
      wallMs: Math.round(nowMs() - t0),
    };
  }

  private async teardown(): Promise<void> {
    await Promise.allSettled([this.workload?.close(), this.probe?.close()]);
    await this.procs?.stopAll();
    await this.mesh?.close();
  }
}

class SetupError extends Error {}

/** Largest node log read back for the summary. */
const MAX_LOG_BYTES = 64 * 1024 * 1024;

/** How many times any node logged becoming leader (a node's logs survive its restarts: they are appended). */
function leadershipsWon(procs: ClusterProcs): number {
  let n = 0;
  for (const id of procs.ids) {
    try {
      const file = procs.logFile(id);
      if (fs.statSync(file).size > MAX_LOG_BYTES) continue;
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) if (line.includes('"msg":"role changed"') && line.includes('"role":"leader"')) n++;
    } catch {
      // No log (the node never started): nothing to count.
    }
  }
  return n;
}

function countEvents(events: ReadonlyMap<number, readonly unknown[]>): number {
  let n = 0;
  for (const list of events.values()) n += list.length;
  return n;
}
