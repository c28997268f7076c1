/**
 * N real RaftNodes wired to the simulator: virtual clocks, the simulated network, and storage
 * that survives crashes: memory disks (losing unsynced writes, possibly tearing the last one) or
 * the LMDB stores in a temporary directory (node-storage.ts, lmdb-storage.ts). This is the
 * production node code; only the ports are simulated.
 */
import { isTesseraError } from '../../src/errors.ts';
import { RaftNode, type NodeObserver } from '../../src/node/raft-node.ts';
import type { Entry, NodeId, Snapshot, SoftState, HardState } from '../../src/raft/types.ts';
import type { KvStateMachine } from '../../src/store/kv-state-machine.ts';
import { InvariantChecker, entryHash, type LogInspector } from '../check/invariants.ts';
import type { SeededRandom } from '../core/random.ts';
import { type Simulator, US_PER_MS } from '../core/simulator.ts';
import type { TraceHash } from '../core/trace.ts';
import type { SimNetwork } from '../net/sim-network.ts';
import { lmdbStorage } from './lmdb-storage.ts';
import { memoryStorage, type ClusterStorage, type NodeStorage, type NodeStores, type SimStore } from './node-storage.ts';
import type { TimelineEvent } from './timeline.ts';

export interface SimTimings {
  /** Raft tick length (ms). The election timeout is electionTick ticks. */
  readonly tickMs: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  /** fsync latency range (ms). */
  readonly fsyncMs: { readonly min: number; readonly max: number };
  readonly snapshotEvery: number;
  readonly requestTimeoutMs: number;
  /** Tiny chunks, so that snapshot transfers span many messages and meet every network fault. */
  readonly snapshotChunkBytes: number;
  /** Lease reads are on in the simulator, so the checkers judge them under every fault. */
  readonly leaseReads: { readonly maxClockDrift: number } | null;
}

export const DEFAULT_TIMINGS: SimTimings = {
  tickMs: 100,
  electionTick: 10,
  heartbeatTick: 1,
  fsyncMs: { min: 1, max: 8 },
  snapshotEvery: 200,
  requestTimeoutMs: 3000,
  snapshotChunkBytes: 512,
  // The nemesis drifts each clock by up to 5%, so two clocks differ in rate by up to 10%.
  leaseReads: { maxClockDrift: 0.12 },
};

export type NodeState = 'up' | 'down' | 'dead';

interface Slot {
  readonly id: NodeId;
  readonly storage: NodeStorage;
  node: RaftNode | null;
  sm: KvStateMachine | null;
  state: NodeState;
  paused: boolean;
}

export interface SimClusterOptions {
  readonly sim: Simulator;
  readonly network: SimNetwork;
  readonly random: SeededRandom;
  readonly trace: TraceHash;
  readonly nodes: number;
  readonly timings?: Partial<SimTimings>;
  readonly onEvent?: (e: TimelineEvent) => void;
  /** Memory twins (default) or the LMDB stores in a temporary directory; then call close() at the end. */
  readonly store?: SimStore;
  /** Where an LMDB cluster makes its temporary directory (default: the system's). */
  readonly storeDir?: string;
}

export class SimCluster {
  readonly ids: NodeId[];
  readonly timings: SimTimings;
  readonly checker: InvariantChecker;
  private readonly slots = new Map<NodeId, Slot>();
  private readonly storage: ClusterStorage;
  private readonly sim: Simulator;
  private readonly network: SimNetwork;
  private readonly random: SeededRandom;
  private readonly diskRandom: SeededRandom;
  private readonly trace: TraceHash;
  private readonly emit: (e: TimelineEvent) => void;
  private readonly observer: NodeObserver;
  /** Called whenever any node applies entries (after the checker saw them). */
  onApplied: (node: NodeId, entries: readonly Entry[]) => void = () => {};
  private readonly leading = new Set<NodeId>();

  constructor(opts: SimClusterOptions) {
    this.sim = opts.sim;
    this.network = opts.network;
    this.random = opts.random;
    this.diskRandom = opts.random.fork('disk');
    this.trace = opts.trace;
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
    this.emit = opts.onEvent ?? (() => {});
    this.ids = Array.from({ length: opts.nodes }, (_, i) => i + 1);
    this.checker = new InvariantChecker((id) => this.inspect(id), () => this.sim.nowMs());
    this.observer = this.makeObserver();
    this.storage = opts.store === 'lmdb' ? lmdbStorage(this.ids, opts.storeDir) : memoryStorage(this.ids);
    for (const id of this.ids) {
      this.slots.set(id, { id, storage: this.storage.node(id), node: null, sm: null, state: 'down', paused: false });
    }
    try {
      for (const id of this.ids) this.start(id);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Torn writes and bit flips can be injected into this cluster's storage. */
  get diskFaults(): boolean {
    return this.storage.diskFaults;
  }

  /** Stops every node and releases the storage (an LMDB run's directory is removed). Idempotent. */
  close(): void {
    for (const s of this.slots.values()) {
      s.node?.stop();
      s.node = null;
      s.sm = null;
      if (s.state === 'up') s.state = 'down';
    }
    this.storage.dispose();
  }

  private makeObserver(): NodeObserver {
    const c = this.checker;
    return {
      roleChanged: (node: NodeId, soft: SoftState, term: number) => {
        this.trace.add('role', node, soft.role, term);
        if (soft.role === 'leader') {
          this.leading.add(node);
          this.emit({ at: this.sim.nowMs(), kind: 'leader', node, term });
        } else if (this.leading.delete(node)) {
          this.emit({ at: this.sim.nowMs(), kind: 'stepDown', node, term });
        }
        c.roleChanged(node, soft, term);
      },
      persisted: (node: NodeId, hs: HardState | null, entries: readonly Entry[], snap: Snapshot | null) => {
        if (hs) this.trace.add('hs', node, hs.term, hs.vote, hs.commit);
        if (entries.length > 0) this.trace.add('ents', node, entries[0]!.index, entries.length);
        c.persisted(node, hs, entries, snap);
      },
      applied: (node: NodeId, entries: readonly Entry[]) => {
        this.trace.add('apply', node, entries[0]!.index, entries.length);
        c.applied(node, entries);
        this.onApplied(node, entries);
      },
      snapshotInstalled: (node: NodeId, snap: Snapshot) => {
        this.trace.add('snap', node, snap.meta.index, snap.meta.term);
        this.emit({ at: this.sim.nowMs(), kind: 'snapshot', node, index: snap.meta.index });
        c.snapshotInstalled(node, snap);
      },
    };
  }

  private slot(id: NodeId): Slot {
    const s = this.slots.get(id);
    if (!s) throw new Error(`no node ${id}`);
    return s;
  }

  /** Opens the node's disk (recovering it) and starts a fresh RaftNode and state machine. */
  start(id: NodeId): void {
    const s = this.slot(id);
    if (s.state !== 'down') return;
    const fsync = this.timings.fsyncMs;
    let stores: NodeStores;
    try {
      // Acknowledgements go through the simulator after a simulated fsync latency, whatever the
      // store: that keeps them replayable, and a crash drops the ones not yet delivered.
      stores = s.storage.open((job) => {
        const us = Math.round((fsync.min + this.diskRandom.nextFloat() * (fsync.max - fsync.min)) * US_PER_MS);
        this.sim.schedule(us, id, job);
      });
    } catch (e) {
      if (!isTesseraError(e, 'CORRUPTION')) throw e;
      // Refusing to start on a corrupt log is the correct outcome: the node stays out for good.
      s.state = 'dead';
      this.trace.add('dead', id);
      this.emit({ at: this.sim.nowMs(), kind: 'corrupt', node: id, detail: e.message });
      return;
    }
    const sm = stores.stateMachine;
    const t = this.timings;
    const node = new RaftNode({
      id,
      voters: this.ids,
      clock: this.sim.clockFor(id),
      random: this.random.fork(`node${id}/${this.sim.incarnation(id)}`),
      transport: this.network.transportFor(id),
      logStore: stores.logStore,
      stateMachine: sm,
      tickMs: t.tickMs,
      snapshotEvery: t.snapshotEvery,
      requestTimeoutMs: t.requestTimeoutMs,
      snapshotChunkBytes: t.snapshotChunkBytes,
      raft: { electionTick: t.electionTick, heartbeatTick: t.heartbeatTick, leaseReads: t.leaseReads },
      observer: this.observer,
    });
    s.node = node;
    s.sm = sm;
    s.state = 'up';
    if (this.sim.incarnation(id) > 0) this.emit({ at: this.sim.nowMs(), kind: 'restart', node: id });
    this.checker.nodeRestarted(id, sm.appliedIndex(), s.storage.durableStateMachine);
    this.network.register(id, (m) => node.receive(m));
    node.start();
    this.trace.add('start', id);
  }

  /**
   * Power loss: the process and its pending events (undelivered acknowledgements included)
   * vanish; on memory disks unsynced writes may be lost or torn.
   */
  crash(id: NodeId, opts: { tear: boolean }): string {
    const s = this.slot(id);
    if (s.state !== 'up') return 'not up';
    const wasLeader = s.node!.isLeader();
    const term = s.node!.raft.term;
    s.node!.stop();
    this.sim.crash(id);
    this.network.unregister(id);
    const what = s.storage.crash(this.diskRandom, opts.tear);
    s.node = null;
    s.sm = null;
    s.state = 'down';
    this.leading.delete(id);
    s.paused = false;
    this.trace.add('crash', id, what);
    this.emit({ at: this.sim.nowMs(), kind: 'crash', node: id, detail: what, wasLeader, term });
    return what;
  }

  /** Silent corruption of a stopped node's durable log. */
  flipBit(id: NodeId): string | null {
    const s = this.slot(id);
    if (s.state !== 'down') return null;
    const what = s.storage.flipBit(this.diskRandom);
    if (what) {
      this.trace.add('flip', id, what);
      this.emit({ at: this.sim.nowMs(), kind: 'bitflip', node: id, detail: what });
    }
    return what;
  }

  pause(id: NodeId): void {
    const s = this.slot(id);
    if (s.state !== 'up' || s.paused) return;
    s.paused = true;
    this.sim.pause(id);
    this.trace.add('pause', id);
    this.emit({ at: this.sim.nowMs(), kind: 'pause', node: id });
  }

  resume(id: NodeId): void {
    const s = this.slot(id);
    if (!s.paused) return;
    s.paused = false;
    this.sim.resume(id);
    this.trace.add('resume', id);
    this.emit({ at: this.sim.nowMs(), kind: 'resume', node: id });
  }

  nowMs(): number {
    return this.sim.nowMs();
  }

  state(id: NodeId): NodeState {
    return this.slot(id).state;
  }

  isPaused(id: NodeId): boolean {
    return this.slot(id).paused;
  }

  node(id: NodeId): RaftNode | null {
    return this.slot(id).node;
  }

  stateMachine(id: NodeId): KvStateMachine | null {
    return this.slot(id).sm;
  }

  upNodes(): NodeId[] {
    return this.ids.filter((id) => this.slot(id).state === 'up');
  }

  /** The current leader among live, unpaused nodes with the highest term, or 0. */
  leader(): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const id of this.upNodes()) {
      const n = this.slot(id).node!;
      if (n.isLeader() && !this.slot(id).paused && n.raft.term > bestTerm) {
        best = id;
        bestTerm = n.raft.term;
      }
    }
    return best;
  }

  /** One line per node: state, role, term, indexes and (on the leader) follower progress. */
  describe(): string {
    return this.ids
      .map((id) => {
        const s = this.slot(id);
        if (!s.node) return `node ${id}: ${s.state}`;
        const st = s.node.status();
        const prs = [...st.progress].map(([p, pr]) => `${p}:${pr.state}/m${pr.match}/n${pr.next}/a${pr.recentActive ? 1 : 0}`).join(' ');
        return `node ${id}: ${st.role} term ${st.term} lead ${st.leader} commit ${st.commit} applied ${st.applied} last ${st.lastIndex} first ${s.node.raft.log.firstIndex()}${prs ? ` [${prs}]` : ''}${s.paused ? ' paused' : ''}`;
      })
      .join('; ');
  }

  private inspect(id: NodeId): LogInspector | null {
    const n = this.slots.get(id)?.node;
    if (!n) return null;
    const log = n.raft.log;
    return {
      firstIndex: () => log.firstIndex(),
      lastIndex: () => log.lastIndex(),
      term: (i) => log.term(i),
      entryHash: (i) => {
        if (i < log.firstIndex() || i > log.lastIndex()) return null;
        const [e] = log.entries(i, i + 1, Number.MAX_SAFE_INTEGER);
        return e ? entryHash(e) : null;
      },
    };
  }
}
