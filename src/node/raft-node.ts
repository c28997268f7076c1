/**
 * RaftNode drives the pure core with injected ports (Clock, Random, Transport, LogStore,
 * StateMachine). Production and the simulator run this same class.
 *
 * It handles one Ready at a time, in the order of the DESIGN.md contract: persist (durably),
 * then send, then apply, then advance. New input keeps arriving while a save is in flight and
 * lands in the next Ready, which is how proposals are batched into one fsync.
 *
 * Everything is callback-based, never promise-based: under the simulator every continuation
 * must run inside the event that caused it, or replay would not be deterministic.
 */
import { TesseraError } from '../errors.ts';
import { raftConfig, type RaftConfig } from '../raft/config.ts';
import { Raft, type RaftStatus } from '../raft/raft.ts';
import { type Entry, type HardState, type Message, type NodeId, type Ready, type Snapshot, type SnapshotMeta, type SoftState, message } from '../raft/types.ts';
import { DEFAULT_SNAPSHOT_CHUNK_BYTES, DEFAULT_SNAPSHOT_WINDOW, SnapshotReceiver, SnapshotSender } from './snapshot-transfer.ts';
import { assert } from '../util/assert.ts';
import type { ApplyResult, Clock, LogStore, Random, StateMachine, Transport } from './ports.ts';
import { checkRuntimeOptions } from './runtime-options.ts';

export type Callback<T> = (error: Error | null, value?: T) => void;

/** Hooks for observers (the simulator's checkers, metrics). They must not mutate what they see. */
export interface NodeObserver {
  roleChanged?(node: NodeId, soft: SoftState, term: number): void;
  persisted?(node: NodeId, hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void;
  applied?(node: NodeId, entries: readonly Entry[]): void;
  /**
   * A batch ran through an asynchronous state machine and its results went out; reads see it
   * once it has committed (then `applied`), which the state machine may hold back to share.
   */
  ran?(node: NodeId, entries: readonly Entry[]): void;
  snapshotInstalled?(node: NodeId, snapshot: Snapshot): void;
}

export interface RaftNodeOptions {
  readonly id: NodeId;
  readonly voters: readonly NodeId[];
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport;
  readonly logStore: LogStore;
  readonly stateMachine: StateMachine;
  /** Milliseconds per Raft tick. */
  readonly tickMs?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEvery?: number;
  /** Pending proposals and reads fail with TIMEOUT after this long. */
  readonly requestTimeoutMs?: number;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'voters' | 'applied'>>;
  /** Bytes per streamed snapshot chunk, and chunks in flight per transfer. */
  readonly snapshotChunkBytes?: number;
  readonly snapshotWindow?: number;
  readonly observer?: NodeObserver;
  /** Called when the node must stop (a storage failure or corruption). Defaults to throwing. */
  readonly onFatal?: (error: Error) => void;
}

interface PendingProposal {
  readonly term: number;
  readonly deadline: number;
  readonly cb: Callback<ApplyResult>;
}

interface PendingRead {
  readonly deadline: number;
  readonly cb: Callback<number>;
  /** Set once the leader confirmed the read point. */
  index: number;
}

export const DEFAULT_TICK_MS = 100;
export const DEFAULT_SNAPSHOT_EVERY = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
/** Bounds the work after a very long pause; any number beyond two election timeouts behaves the same. */
const MAX_CATCH_UP_TICKS = 1_000;

export class RaftNode {
  readonly id: NodeId;
  readonly raft: Raft;
  private readonly clock: Clock;
  private readonly transport: Transport;
  private readonly logStore: LogStore;
  readonly stateMachine: StateMachine;
  private readonly tickMs: number;
  private readonly snapshotEvery: number;
  private readonly requestTimeoutMs: number;
  private readonly observer: NodeObserver;
  private readonly onFatal: (error: Error) => void;

  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  /** Confirmed reads waiting for apply to reach their index, in confirmation order. */
  private readyReads: string[] = [];
  private readSeq = 0;
  private cancelTick: (() => void) | null = null;
  private inFlight = false;
  private pumping = false;
  private pumpScheduled = false;
  /** The hard state last written durably; a change of commit alone is not worth an fsync. */
  private syncedHardState: HardState;
  /** A newer hard state that differs from the synced one only in commit: rides with the next write. */
  private unsyncedHardState: HardState | null = null;
  private stopped = false;
  /** applyAsync batches not committed yet, and what waits for them all (a snapshot install). */
  private pendingApplies = 0;
  private readonly afterApplies: (() => void)[] = [];
  /** Committed batches handed over by the core and not yet given to the state machine (see apply()). */
  private deferredApplies: (readonly Entry[])[] = [];
  private lastSnapshotIndex: number;
  private readonly snapSender: SnapshotSender;
  private readonly snapReceiver: SnapshotReceiver;
  /** Where in a tick period this node's ticks fall (ms), so peers' election timers are not in lockstep. */
  private readonly tickPhaseMs: number;
  /** Local clock reading at the last tick (null before the first). */
  private lastTickAt: number | null = null;

  constructor(opts: RaftNodeOptions) {
    checkRuntimeOptions(opts);
    this.id = opts.id;
    this.clock = opts.clock;
    this.transport = opts.transport;
    this.logStore = opts.logStore;
    this.stateMachine = opts.stateMachine;
    this.tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    this.snapshotEvery = opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.observer = opts.observer ?? {};
    this.onFatal =
      opts.onFatal ??
      ((e) => {
        throw e;
      });

    this.lastSnapshotIndex = this.reconcileStores(opts.voters);
    this.tickPhaseMs = opts.random.nextFloat() * this.tickMs;
    const applied = this.stateMachine.appliedIndex();
    const cfg = raftConfig({ ...opts.raft, id: opts.id, voters: opts.voters, applied });
    this.raft = new Raft(cfg, this.logStore, opts.random);
    this.syncedHardState = this.logStore.initialState().hardState;
    const send = (m: Message) => this.transport.send(m);
    this.snapSender = new SnapshotSender({
      self: this.id,
      chunkBytes: opts.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
      window: opts.snapshotWindow ?? DEFAULT_SNAPSHOT_WINDOW,
      retransmitMs: 2 * this.tickMs,
      stallMs: this.requestTimeoutMs,
      send,
      report: (to, failed) => this.raft.step(message({ type: 'snapStatus', from: to, to: this.id, reject: failed })),
    });
    this.snapReceiver = new SnapshotReceiver({ self: this.id, window: opts.snapshotWindow ?? DEFAULT_SNAPSHOT_WINDOW, send });
  }

  /**
   * Brings the state machine and the log to agreement after a restart; returns the index of the
   * latest snapshot.
   * - A volatile state machine (or one behind the log's snapshot) is rebuilt from the snapshot
   *   image the log keeps; one whose data is gone cannot be, and the node must not go on.
   * - A durable state machine may be ahead of the log when a crash fell between installing a
   *   snapshot and recording it: the snapshot's metadata is recorded now.
   */
  private reconcileStores(voters: readonly NodeId[]): number {
    const sm = this.stateMachine;
    const snap = this.logStore.snapshot();
    const snapIndex = snap?.meta.index ?? 0;
    if (snap && sm.appliedIndex() < snapIndex) {
      if (snap.data.byteLength === 0) {
        throw new TesseraError(
          'CORRUPTION',
          `node ${this.id}: state machine at index ${sm.appliedIndex()} is behind the log's snapshot at ${snapIndex} and the log keeps no image; its data is lost: wipe this node's directory and let it rejoin`,
        );
      }
      sm.restore(snap.meta, snap.data);
    }
    const applied = sm.appliedIndex();
    const first = this.logStore.firstIndex();
    const inLog = applied >= first && applied <= this.logStore.lastIndex() && this.logStore.term(applied) === sm.appliedTerm();
    if (applied > first - 1 && !inLog && applied > this.logStore.initialState().hardState.commit) {
      const meta = { index: applied, term: sm.appliedTerm(), conf: snap?.meta.conf ?? { voters: [...voters], learners: [] } };
      sm.makeDurable?.(); // what we read at open may not have reached the disk yet
      this.logStore.saveSnapshot(this.snapshotFor(meta), (err) => {
        if (err) this.fail(err);
      });
      return applied;
    }
    return snapIndex;
  }

  /** What the log store keeps of a snapshot: the image only if it is the state machine's only copy. */
  private snapshotFor(meta: SnapshotMeta): Snapshot {
    return { meta, data: this.logStore.snapshotData === 'kept' ? this.stateMachine.snapshot() : new Uint8Array(0) };
  }

  start(): void {
    assert(!this.stopped, 'a stopped node cannot be restarted; open a new one');
    if (this.cancelTick) return;
    this.scheduleTick(this.tickPhaseMs);
  }

  /** Stops timers and fails every pending request with CLOSED. The stores stay open (the caller owns them). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTick?.();
    this.snapSender.abortAll();
    this.snapReceiver.abortAll();
    this.cancelTick = null;
    const closed = () => new TesseraError('CLOSED', `node ${this.id} stopped`);
    for (const p of this.proposals.values()) p.cb(closed());
    for (const r of this.reads.values()) r.cb(closed());
    this.proposals.clear();
    this.reads.clear();
    this.readyReads = [];
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  receive(m: Message): void {
    if (this.stopped) return;
    if (m.type === 'snapChunk') this.receiveChunk(m);
    else if (m.type === 'snapChunkAck') this.snapSender.onAck(m, this.clock.now());
    else this.raft.step(m);
    this.pump();
  }

  private receiveChunk(m: Message): void {
    if (m.term < this.raft.term) return; // from a deposed leader
    const meta = this.snapReceiver.onChunk(m, this.stateMachine, this.raft.log.committed);
    if (!meta) return;
    // The image is complete: let the core decide whether it wants it.
    this.raft.step(message({ type: 'snap', from: m.from, to: this.id, term: m.term, snapshot: { meta, data: new Uint8Array(0) } }));
    if (this.raft.log.snapshotToPersist()?.meta.index !== meta.index) this.snapReceiver.discardStaged();
  }

  /** Replicates `data`; `cb` gets the state machine's result once it is applied here. */
  propose(data: Uint8Array, cb: Callback<ApplyResult>): void {
    if (this.stopped) return cb(new TesseraError('CLOSED', `node ${this.id} stopped`));
    let at;
    try {
      this.stateMachine.admit?.(data);
      at = this.raft.propose(data);
    } catch (e) {
      return cb(e as Error);
    }
    // An older proposal of ours at this index was overwritten by another leader: it can never apply.
    this.proposals.get(at.index)?.cb(new TesseraError('PROPOSAL_DROPPED', `entry ${at.index} was overwritten`));
    this.proposals.set(at.index, { term: at.term, deadline: this.clock.now() + this.requestTimeoutMs, cb });
    this.schedulePump();
  }

  /**
   * Linearizable read barrier (ReadIndex): `cb` runs once this node's state machine reflects
   * every write committed before the read was issued; read the state machine inside `cb`.
   */
  readBarrier(cb: Callback<number>): void {
    this.barrier(cb, false);
  }

  /**
   * Like readBarrier, but while the leader's lease holds it answers without a heartbeat round
   * (raft.leaseReads must be configured; it falls back to ReadIndex when the lease is not valid).
   */
  leaseReadBarrier(cb: Callback<number>): void {
    this.barrier(cb, true);
  }

  /** The tick timer is late by more than a tick: the core's notion of elapsed time lags the clock. */
  private ticksOverdue(): boolean {
    return this.lastTickAt === null || this.clock.now() - this.lastTickAt > 2 * this.tickMs;
  }

  private barrier(cb: Callback<number>, lease: boolean): void {
    if (this.stopped) return cb(new TesseraError('CLOSED', `node ${this.id} stopped`));
    const context = `${this.id}/${++this.readSeq}`;
    try {
      // With a stale sense of time (we were paused or starved) no lease can be trusted: ReadIndex.
      if (lease && !this.ticksOverdue()) this.raft.leaseRead(context);
      else this.raft.readIndex(context);
    } catch (e) {
      return cb(e as Error);
    }
    this.reads.set(context, { deadline: this.clock.now() + this.requestTimeoutMs, cb, index: -1 });
    this.schedulePump();
  }

  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
    this.pump();
  }

  campaign(): void {
    this.raft.campaignNow();
    this.pump();
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  isLeader(): boolean {
    return this.raft.role === 'leader';
  }

  leaderHint(): NodeId {
    return this.raft.lead;
  }

  // --- the Ready loop ---

  private scheduleTick(delayMs = this.tickMs): void {
    this.cancelTick = this.clock.setTimer(delayMs, () => {
      this.cancelTick = null;
      if (this.stopped) return;
      // Tick once per tick period that really passed: after a pause (GC, SIGSTOP, overload) the
      // core must see the time that went by, or it would trust a lease that has long expired.
      const now = this.clock.now();
      const behind = this.lastTickAt === null ? 1 : Math.floor((now - this.lastTickAt) / this.tickMs);
      const ticks = Math.min(Math.max(1, behind), MAX_CATCH_UP_TICKS);
      for (let i = 0; i < ticks; i++) this.raft.tick();
      this.lastTickAt = now;
      this.snapSender.tick(this.clock.now());
      this.expireRequests();
      this.pump();
      if (!this.stopped) this.scheduleTick();
    });
  }

  /**
   * Proposals and reads arriving in one turn of the event loop share one Ready, hence one fsync
   * and one heartbeat round, instead of each starting its own.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    this.clock.setTimer(0, () => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      while (!this.inFlight && !this.stopped && this.raft.hasReady()) this.handleReady(this.raft.ready());
    } finally {
      this.pumping = false;
    }
  }

  private handleReady(rd: Ready): void {
    if (rd.snapshot) this.applyDeferred();
    if (rd.snapshot && this.pendingApplies > 0) {
      // An installed snapshot replaces the state; batches still committing belong to the old one.
      // Their commit group need not stay open for more: it commits now.
      this.stateMachine.commitSoon?.();
      this.inFlight = true;
      this.afterApplies.push(() => {
        this.inFlight = false;
        if (this.stopped) return;
        this.persistReady(rd);
        this.pump();
      });
      return;
    }
    this.persistReady(rd);
  }

  private persistReady(rd: Ready): void {
    if (rd.softState) {
      if (rd.softState.role !== 'leader') this.snapSender.abortAll();
      this.observer.roleChanged?.(this.id, rd.softState, this.raft.term);
    }
    // The commit index is volatile state in Raft (a restart recovers it from the leader, and
    // from the applied index): only term, vote, entries and snapshots must be durable first.
    const hs = rd.hardState ?? this.unsyncedHardState;
    const termOrVote = hs !== null && (hs.term !== this.syncedHardState.term || hs.vote !== this.syncedHardState.vote);
    if (rd.entries.length === 0 && rd.snapshot === null && !termOrVote) {
      this.unsyncedHardState = hs;
      this.finishReady(rd, false);
      return;
    }
    this.unsyncedHardState = null;
    if (hs) this.syncedHardState = hs;
    this.inFlight = true;
    // A leader's messages (appends, heartbeats) vouch for nothing this Ready persists, and its
    // own copy of the entries counts toward commit only at advance: they may leave while the
    // entries are written (thesis §10.2.1), so followers write in parallel with the leader.
    const early = rd.snapshot === null && !termOrVote && this.raft.role === 'leader';
    if (early) this.sendMessages(rd);
    if (rd.snapshot) {
      // The state machine first (durable on its own, or rebuilt from what the log keeps), then the log.
      if (!this.snapReceiver.install(rd.snapshot.meta.index)) {
        assert(rd.snapshot.data.byteLength > 0, () => `snapshot at ${rd.snapshot!.meta.index} accepted without a staged image`);
        this.stateMachine.restore(rd.snapshot.meta, rd.snapshot.data);
      }
      this.logStore.saveSnapshot(this.snapshotFor(rd.snapshot.meta), (err) => {
        if (err) this.fail(err);
      });
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.observer.snapshotInstalled?.(this.id, rd.snapshot);
    }
    // Stores complete writes in call order, so this callback also covers the snapshot above.
    this.logStore.save(hs, rd.entries, (err) => {
      if (this.stopped) return; // crashed or closed while the write was in flight
      if (err) return this.fail(err);
      this.observer.persisted?.(this.id, hs, rd.entries, rd.snapshot);
      this.inFlight = false;
      this.finishReady(rd, early);
      this.pump();
    });
    if (rd.entries.length > 0) this.prepareLater(rd.entries);
  }

  /**
   * Hands entries being written to the state machine's prepare() while the write runs, instead of
   * leaving that work to the apply that follows the commit (a leader's clients wait for it). On a
   * zero timer, not at once: messages this Ready sent (a leader's appends) are delivered first, so
   * the followers' writes start no later for it.
   */
  private prepareLater(entries: readonly Entry[]): void {
    const sm = this.stateMachine;
    if (sm.prepare === undefined) return;
    this.clock.setTimer(0, () => {
      if (!this.stopped) sm.prepare!(entries);
    });
  }

  private sendMessages(rd: Ready): void {
    for (const m of rd.messages) {
      // The core decides that a follower needs a snapshot; the runtime streams the state machine's image.
      if (m.type === 'snap') this.snapSender.start(m.to, m.term, this.stateMachine, this.raft.confState(), this.clock.now());
      else this.transport.send(m);
    }
  }

  private finishReady(rd: Ready, sent: boolean): void {
    if (!sent) this.sendMessages(rd);
    if (rd.committed.length > 0) this.apply(rd.committed);
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (!r) continue; // timed out meanwhile
      r.index = rs.index;
      this.readyReads.push(rs.context);
    }
    if (rd.snapshot) this.failProposalsCoveredBy(rd.snapshot.meta.index);
    this.raft.advance(rd);
    this.serveReads();
    this.maybeSnapshot();
  }

  /**
   * Only a leader's applies answer clients, and they lie on the path of every write; a follower's
   * may wait for the turn of the event loop that handles the messages already queued (on one
   * machine hosting several nodes, they would otherwise hold up the leader's next round).
   * Batches stay in commit order: once one waits, every later one queues behind it.
   */
  private apply(entries: readonly Entry[]): void {
    if (this.raft.role === 'leader' && this.deferredApplies.length === 0) return this.applyNow(entries);
    this.deferredApplies.push(entries);
    if (this.deferredApplies.length === 1) this.clock.setTimer(0, () => this.applyDeferred());
  }

  private applyDeferred(): void {
    if (this.stopped || this.deferredApplies.length === 0) return;
    const batches = this.deferredApplies;
    this.deferredApplies = [];
    this.applyNow(batches.length === 1 ? batches[0]! : batches.flat());
    this.serveReads();
    this.maybeSnapshot();
  }

  private applyNow(entries: readonly Entry[]): void {
    const sm = this.stateMachine;
    if (sm.applyAsync) {
      this.pendingApplies++;
      sm.applyAsync(
        entries,
        (results) => {
          if (this.stopped) return;
          this.deliverResults(entries, results);
          this.observer.ran?.(this.id, entries);
        },
        (error) => {
          this.pendingApplies--;
          if (this.stopped) return;
          if (error) return this.fail(error);
          assert(sm.appliedIndex() >= entries[entries.length - 1]!.index, 'state machine applied index must follow the batch');
          this.observer.applied?.(this.id, entries);
          this.serveReads();
          this.maybeSnapshot();
          if (this.pendingApplies === 0) for (const fn of this.afterApplies.splice(0)) fn();
        },
      );
      return;
    }
    const results = sm.apply(entries);
    assert(sm.appliedIndex() === entries[entries.length - 1]!.index, 'state machine applied index must follow the batch');
    this.observer.applied?.(this.id, entries);
    this.deliverResults(entries, results);
  }

  private deliverResults(entries: readonly Entry[], results: readonly unknown[]): void {
    assert(results.length === entries.length, 'state machine must return one result per entry');
    entries.forEach((e, i) => {
      const p = this.proposals.get(e.index);
      if (!p) return;
      this.proposals.delete(e.index);
      if (p.term === e.term) p.cb(null, results[i]);
      else p.cb(new TesseraError('PROPOSAL_DROPPED', `entry ${e.index} was overwritten by term ${e.term}`));
    });
  }

  /** A snapshot jumped past these proposals: whether they were applied is unknown here. */
  private failProposalsCoveredBy(index: number): void {
    for (const [i, p] of this.proposals) {
      if (i > index) continue;
      this.proposals.delete(i);
      p.cb(new TesseraError('TIMEOUT', `outcome of entry ${i} unknown: superseded by a snapshot at ${index}`));
    }
  }

  private serveReads(): void {
    const applied = this.stateMachine.appliedIndex();
    const waiting: string[] = [];
    for (const ctx of this.readyReads) {
      const r = this.reads.get(ctx);
      if (!r) continue;
      if (r.index <= applied) {
        this.reads.delete(ctx);
        r.cb(null, r.index);
      } else {
        waiting.push(ctx);
      }
    }
    this.readyReads = waiting;
    // Applied but not yet committed batches would keep these reads waiting for a shared commit.
    if (waiting.length > 0 && this.pendingApplies > 0) this.stateMachine.commitSoon?.();
  }

  private maybeSnapshot(): void {
    const applied = this.stateMachine.appliedIndex();
    if (applied - this.lastSnapshotIndex < this.snapshotEvery) return;
    const snap = this.snapshotFor({ index: applied, term: this.stateMachine.appliedTerm(), conf: this.raft.confState() });
    this.lastSnapshotIndex = applied;
    // Saving the snapshot compacts the log up to `applied`: the state must not be able to fall back below it.
    this.stateMachine.makeDurable?.();
    this.logStore.saveSnapshot(snap, (err) => {
      if (err && !this.stopped) this.fail(err);
    });
  }

  private expireRequests(): void {
    const now = this.clock.now();
    for (const [i, p] of this.proposals) {
      if (p.deadline > now) continue;
      this.proposals.delete(i);
      p.cb(new TesseraError('TIMEOUT', `proposal at index ${i} not applied within ${this.requestTimeoutMs} ms`));
    }
    for (const [ctx, r] of this.reads) {
      if (r.deadline > now) continue;
      this.reads.delete(ctx);
      r.cb(new TesseraError('TIMEOUT', `read not confirmed within ${this.requestTimeoutMs} ms`));
    }
  }

  private fail(error: Error): void {
    this.stop();
    this.onFatal(error);
  }
}
