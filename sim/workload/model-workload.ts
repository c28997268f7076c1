/**
 * Model writers, readers and a janitor against the simulated cluster, checking that a version
 * becomes visible whole or not at all (model-ledger.ts has the exact rules).
 *
 * - A writer saves a version of one of the models: chunk puts one at a time, then commitVersion,
 *   as TensorStore does. Some writers are killed mid-save (before one of their puts, or right
 *   after sending the commit), leaving orphan chunks; leader crashes and partitions interrupt
 *   others. Some commit speculatively after only part of their puts and send the rest when the
 *   commit reports them missing, which is the path that re-sends chunks gc took.
 * - A reader reads the head and its manifest at one node (half of the time after a read
 *   barrier), then every chunk of that version, one read at a time, from a node that has applied
 *   the commit (one that has not is skipped), and checks what it got.
 * - The janitor deletes old versions (sometimes the head) and collects unreferenced chunks, so
 *   both race the loads and the saves.
 *
 * Every command carries a session (client, seq) and is retried with the same seq until its
 * deadline (sim-rpc.ts); requests and answers are simulator events, as in kv-workload.ts.
 */
import { TesseraError } from '../../src/errors.ts';
import { type KvCommand, type KvResult, encodeCommand } from '../../src/store/kv-command.ts';
import type { ModelCommand } from '../../src/store/model-command.ts';
import type { StoredVersion } from '../../src/store/model-keys.ts';
import type { InvariantChecker } from '../check/invariants.ts';
import type { SimCluster } from '../cluster/sim-cluster.ts';
import type { SeededRandom } from '../core/random.ts';
import { ENVIRONMENT, type Simulator, US_PER_MS } from '../core/simulator.ts';
import { ModelLedger, type ChunkRead } from './model-ledger.ts';
import { DEFAULT_MODEL_WORKLOAD, emptyStats, type ModelWorkloadOptions, type ModelWorkloadStats } from './model-options.ts';
import { planSave, type PlannedChunk, type SavePlan } from './model-saves.ts';
import { SimRpc, type RpcCall, type RpcClient, type Serve } from './sim-rpc.ts';

export { DEFAULT_MODEL_WORKLOAD, type ModelWorkloadOptions, type ModelWorkloadStats } from './model-options.ts';

/** Commit rounds of one save: a speculative one, then as TensorStore's (commit, re-send what is missing). */
const MAX_COMMIT_ROUNDS = 4;

type Role = 'writer' | 'reader' | 'janitor';

interface Proc {
  readonly pid: number;
  readonly slot: number;
  readonly role: Role;
  readonly clientId: string;
  seq: number;
  readonly client: RpcClient;
  busy: boolean;
  /** The current operation was started after healing: it must succeed. */
  strict: boolean;
}

interface Save {
  readonly plan: SavePlan;
  /** Dies before issuing put number killBeforePut + 1 (null: not killed there). */
  readonly killBeforePut: number | null;
  readonly killAfterCommit: boolean;
  /** Elections the cluster had seen when the save began. */
  readonly elections: number;
  puts: number;
  rounds: number;
}

interface Load {
  readonly model: string;
  readonly version: StoredVersion;
  readonly hashes: readonly Uint8Array[];
  readonly chunks: Uint8Array[];
  node: number;
  readonly where: string;
}

export class ModelWorkload {
  readonly strictFailures: string[] = [];
  readonly stats: ModelWorkloadStats = emptyStats();
  /** Operations begun (saves, loads, deletes, gcs). */
  invoked = 0;
  /** Commands acknowledged ok. */
  acked = 0;
  readonly ledger: ModelLedger;
  private readonly procs: Proc[] = [];
  private readonly rng: SeededRandom;
  /** Chunk bytes have a stream of their own, so the size of a save never shifts the decisions. */
  private readonly dataRng: SeededRandom;
  private readonly rpc: SimRpc;
  private readonly modelNames: string[];
  private nextPid = 0;
  private saveSeq = 0;
  private remaining = 0;
  private outstanding = 0;
  private strict = false;
  /** Highest revision of any acknowledged command: gc collects what is unreferenced before it. */
  private maxRevision = 0;

  constructor(
    private readonly sim: Simulator,
    private readonly cluster: SimCluster,
    private readonly checker: InvariantChecker,
    random: SeededRandom,
    readonly opts: ModelWorkloadOptions = DEFAULT_MODEL_WORKLOAD,
  ) {
    this.rng = random.fork('models');
    this.dataRng = random.fork('models/data');
    this.rpc = new SimRpc(sim, cluster, random.fork('models/rpc'), opts);
    this.ledger = new ModelLedger((text) => checker.violation(text));
    this.modelNames = Array.from({ length: opts.models }, (_, i) => `m${i}`);
    const roles: Role[] = [...Array<Role>(opts.writers).fill('writer'), ...Array<Role>(opts.readers).fill('reader'), ...Array<Role>(opts.janitors).fill('janitor')];
    roles.forEach((role, slot) => this.procs.push(this.newProcess(slot, role)));
  }

  private newProcess(slot: number, role: Role): Proc {
    const pid = this.nextPid++;
    // 'm' ids never collide with the kv workload's 'p' ids when both run.
    return { pid, slot, role, clientId: `m${pid}`, seq: 0, client: { leaderGuess: 0, failures: 0 }, busy: false, strict: false };
  }

  /** Lets the processes run `ops` more operations; with `strict`, each of them must succeed. */
  run(ops: number, strict = false): void {
    this.strict = strict;
    this.remaining += ops;
    for (const p of this.procs) if (!p.busy) this.scheduleNext(p, 0);
  }

  get idle(): boolean {
    return this.remaining === 0 && this.outstanding === 0;
  }

  /**
   * After healing and catching up: scans the models of every node that applied everything
   * committed (rule 4; one that did not is the runner's liveness violation, not a lost version),
   * then loads each model once more through the normal path.
   */
  finalReads(): void {
    for (const id of this.cluster.upNodes()) {
      const sm = this.cluster.stateMachine(id)!;
      if (sm.appliedIndex() >= this.checker.committedIndex) this.stats.versionsScanned += this.ledger.scan(sm, id, this.modelNames);
    }
    const readers = this.procs.filter((p) => p.role === 'reader' && !p.busy);
    this.modelNames.forEach((model, i) => {
      const p = readers[i % Math.max(1, readers.length)];
      if (p === undefined || p.busy) return;
      this.begin(p);
      this.load(p, model);
    });
  }

  private scheduleNext(p: Proc, thinkMs: number): void {
    this.sim.schedule(Math.round(thinkMs * US_PER_MS), ENVIRONMENT, () => {
      if (p.busy || this.remaining <= 0 || this.procs[p.slot] !== p) return;
      this.remaining--;
      this.begin(p);
      if (p.role === 'writer') this.save(p);
      else if (p.role === 'reader') this.load(p, this.rng.pick(this.modelNames));
      else this.janitor(p);
    });
  }

  private begin(p: Proc): void {
    p.busy = true;
    p.strict = this.strict;
    this.outstanding++;
    this.invoked++;
  }

  /**
   * Ends p's operation. `unknown`: a command of p's session has an unknown outcome (or p was
   * killed), so p retires and a new process with a new session takes its place, as in the kv
   * workload: a session whose first command never applied cannot go on with its second.
   */
  private end(p: Proc, ok: boolean, what: string, unknown = false): void {
    this.outstanding--;
    p.busy = false;
    if (p.strict && !ok) this.strictFailures.push(`model ${what} by process ${p.pid} failed after healing`);
    if (unknown) {
      const successor = this.newProcess(p.slot, p.role);
      this.procs[p.slot] = successor;
      return this.scheduleNext(successor, 0);
    }
    const t = p.role === 'writer' ? this.opts.writerThinkMs : p.role === 'reader' ? this.opts.readerThinkMs : this.opts.janitorThinkMs;
    this.scheduleNext(p, t.min + this.rng.nextFloat() * (t.max - t.min));
  }

  /** The writer dies mid-save: it never issues again. */
  private kill(p: Proc, s: Save): void {
    this.stats.savesKilled++;
    this.countElections(s);
    this.end(p, true, `save ${s.plan.id} (killed)`, true);
  }

  /** Proposes a model command under p's session; `cb` gets the result, or null if the outcome is unknown. */
  private propose(p: Proc, cmd: ModelCommand, what: string, cb: (res: KvResult | null) => void): RpcCall {
    const data = encodeCommand({ ...cmd, session: { client: p.clientId, seq: ++p.seq } } as KvCommand);
    const first = p.client.leaderGuess || this.rpc.randomNode();
    return this.rpc.call(p.client, (node, _sm, _id, reply) => node.propose(data, reply), first, true, (o) => {
      if (!o.ok) return cb(null);
      const res = o.value as KvResult;
      if (res.ok) {
        this.acked++;
        this.checker.acknowledged(res.revision, data, `${what} by model process ${p.pid}`);
        this.maxRevision = Math.max(this.maxRevision, res.revision);
      } else if (res.reason === 'session_stale' || res.reason === 'session_expired') {
        this.checker.violation(`session: model process ${p.pid}'s own pending ${what} was answered '${res.reason}'`);
        return cb(null);
      }
      cb(res);
    });
  }

  // --- writers ---

  private save(p: Proc): void {
    const r = this.rng;
    const plan = planSave(this.dataRng, ++this.saveSeq, p.pid, r.pick(this.modelNames), this.opts.shape);
    this.ledger.register(plan);
    this.stats.savesStarted++;
    const n = plan.chunks.length;
    // Every draw is made whatever the outcome, so one knob never shifts the others' streams.
    const kill = r.chance(this.opts.killChance) && !p.strict;
    const afterCommit = r.chance(0.25);
    const killAt = r.nextInt(n);
    const speculative = r.chance(this.opts.speculativeCommitChance);
    const firstCommitAfter = speculative ? r.nextInt(n) : n;
    const s: Save = { plan, killBeforePut: kill && !afterCommit ? killAt : null, killAfterCommit: kill && afterCommit, elections: this.checker.elections.length, puts: 0, rounds: 0 };
    this.putChunks(p, s, plan.chunks.slice(0, firstCommitAfter), () => this.commit(p, s));
  }

  private putChunks(p: Proc, s: Save, list: readonly PlannedChunk[], then: () => void): void {
    const step = (i: number): void => {
      if (i === list.length) return then();
      if (s.puts === s.killBeforePut) return this.kill(p, s);
      s.puts++;
      const c = list[i]!;
      this.propose(p, { op: 'chunkPut', hash: c.hash, data: c.data }, `chunk put of save ${s.plan.id}`, (res) => {
        if (res === null) return this.endSave(p, s, 'interrupted');
        if (!res.ok) {
          this.checker.violation(`model workload: a chunk put of save ${s.plan.id} was answered '${res.reason}'`);
          return this.endSave(p, s, 'failed');
        }
        step(i + 1);
      });
    };
    step(0);
  }

  private commit(p: Proc, s: Save): void {
    s.rounds++;
    const { plan } = s;
    this.ledger.commitIssued(plan.id);
    const cmd: ModelCommand = { op: 'commitVersion', model: plan.model, expectedHead: null, manifest: plan.manifest };
    const call = this.propose(p, cmd, `commit of save ${plan.id}`, (res) => {
      if (res === null) {
        this.stats.commitsUnknown++;
        return this.endSave(p, s, 'interrupted');
      }
      if (res.ok && res.version !== undefined && res.version > 0) {
        this.ledger.committed(plan.id, res.version);
        return this.endSave(p, s, 'committed');
      }
      if (!res.ok && res.reason === 'missing_chunks') {
        this.stats.missingChunkRounds++;
        if (s.rounds >= MAX_COMMIT_ROUNDS) return this.endSave(p, s, 'gave up');
        const byHash = new Map(plan.chunks.map((c) => [Buffer.from(c.hash).toString('hex'), c]));
        const list = res.missing.map((h) => byHash.get(Buffer.from(h).toString('hex')));
        if (list.some((c) => c === undefined)) {
          this.checker.violation(`model workload: the commit of save ${plan.id} reports missing a chunk its manifest does not name`);
          return this.endSave(p, s, 'failed');
        }
        return this.putChunks(p, s, list as PlannedChunk[], () => this.commit(p, s));
      }
      this.checker.violation(`model workload: the commit of save ${plan.id} was answered ${JSON.stringify(res.ok ? res : res.reason)}`);
      this.endSave(p, s, 'failed');
    });
    if (s.killAfterCommit) {
      // The commit is on its way; its writer is gone and will never learn whether it applied.
      call.abandon();
      this.kill(p, s);
    }
  }

  private endSave(p: Proc, s: Save, outcome: 'committed' | 'interrupted' | 'gave up' | 'failed'): void {
    this.countElections(s);
    if (outcome === 'committed') this.stats.savesCommitted++;
    else if (outcome === 'interrupted') this.stats.savesInterrupted++;
    else if (outcome === 'gave up') this.stats.savesGaveUp++;
    this.end(p, outcome === 'committed', `save ${s.plan.id} (${outcome})`, outcome === 'interrupted' || outcome === 'failed');
  }

  private countElections(s: Save): void {
    if (this.checker.elections.length > s.elections) this.stats.savesAcrossElections++;
  }

  // --- readers ---

  private load(p: Proc, model: string): void {
    const linear = this.rng.chance(0.5);
    const first = linear ? p.client.leaderGuess || this.rpc.randomNode() : this.rpc.randomNode();
    const serve: Serve = (node, _sm, id, reply) => {
      // Read inside the event that answers: the head and its manifest come from one applied state.
      const read = () => {
        const sm = this.cluster.stateMachine(id);
        if (!sm) return reply(new TesseraError('CLOSED', `node ${id} stopped`));
        reply(null, this.ledger.headAt(sm, id, model));
      };
      if (!linear) return read();
      node.readBarrier((err) => (err ? reply(err) : read()));
    };
    this.rpc.call(p.client, serve, first, linear, (o) => {
      if (!o.ok) return this.endLoad(p, model, 'failed');
      const version = o.value as StoredVersion | null;
      if (version === null) return this.endLoad(p, model, 'empty');
      const hashes = version.manifest.tensors.flatMap((t) => t.chunks);
      const where = `process ${p.pid} loading model ${model} version ${version.version} (head read at node ${o.node})`;
      this.readChunk(p, { model, version, hashes, chunks: [], node: this.rpc.randomNode(), where });
    });
  }

  private readChunk(p: Proc, load: Load): void {
    const k = load.chunks.length;
    if (k === load.hashes.length) {
      const ok = this.ledger.checkVersion(load.model, load.version, load.chunks, load.where);
      return this.endLoad(p, load.model, ok ? 'checked' : 'corrupt');
    }
    const hash = load.hashes[k]!;
    const serve: Serve = (_node, sm, id, reply) => {
      this.stats.chunkReads++;
      const r = this.ledger.chunkAt(sm, id, load.model, load.version, hash, load.where);
      if (r.kind !== 'notApplied') return reply(null, r);
      this.stats.chunkReadsNotApplied++;
      reply(new TesseraError('UNAVAILABLE', `node ${id} has not applied revision ${load.version.createdRevision} yet`));
    };
    this.rpc.call(p.client, serve, load.node, false, (o) => {
      if (!o.ok) return this.endLoad(p, load.model, 'failed');
      load.node = o.node; // stay with a node that has the version
      const r = o.value as ChunkRead;
      if (r.kind === 'deleted') return this.endLoad(p, load.model, 'deleted');
      if (r.kind !== 'chunk') return this.endLoad(p, load.model, 'corrupt');
      load.chunks.push(r.data);
      const g = this.opts.chunkGapMs;
      const gapUs = Math.round((g.min + this.rng.nextFloat() * (g.max - g.min)) * US_PER_MS);
      this.sim.schedule(gapUs, ENVIRONMENT, () => this.readChunk(p, load));
    });
  }

  private endLoad(p: Proc, model: string, outcome: 'checked' | 'deleted' | 'empty' | 'failed' | 'corrupt'): void {
    if (outcome === 'checked') this.stats.loadsChecked++;
    else if (outcome === 'deleted') this.stats.loadsDeleted++;
    else if (outcome === 'empty') this.stats.loadsEmpty++;
    else if (outcome === 'failed') this.stats.loadsFailed++;
    // A corrupt load was reported as a violation where it was seen.
    this.end(p, outcome !== 'failed', `load of ${model} (${outcome})`);
  }

  // --- janitor ---

  private janitor(p: Proc): void {
    const r = this.rng;
    const model = r.pick(this.modelNames);
    const live = this.ledger.live(model);
    const del = r.chance(0.6);
    // Half of the time the head itself, so that loads of the head race its delete; else an older one.
    const head = r.chance(0.5);
    const older = r.nextInt(Math.max(1, live.length - 1));
    if (del && live.length > 0) {
      const version = head || live.length === 1 ? live[live.length - 1]! : live[older]!;
      this.ledger.deleteIssued(model, version);
      this.propose(p, { op: 'deleteVersion', model, version }, `delete of model ${model} version ${version}`, (res) => {
        if (res === null) return this.end(p, false, `delete of ${model} version ${version}`, true);
        // Its commit was acknowledged before this delete was sent, and nobody else deletes it.
        if (!res.ok) this.checker.violation(`model atomicity: delete of acknowledged model ${model} version ${version} was answered '${res.reason}'`);
        else this.stats.deletes++;
        this.end(p, res.ok, `delete of ${model} version ${version}`);
      });
      return;
    }
    // Everything unreferenced written before the newest revision seen: the orphans of killed saves,
    // and chunks of saves in flight, whose commits then report them missing and re-send them.
    this.propose(p, { op: 'gcChunks', before: this.maxRevision + 1 }, 'chunk gc', (res) => {
      if (res?.ok) {
        this.stats.gcs++;
        this.stats.chunksCollected += res.deleted ?? 0;
      } else if (res !== null) {
        this.checker.violation(`model workload: chunk gc was answered '${res.reason}'`);
      }
      this.end(p, res?.ok === true, 'chunk gc', res === null);
    });
  }
}
