/**
 * One durable node: a RaftNode over an LMDB log (`<dir>/log`) and an LMDB state machine
 * (`<dir>/state`), with the system clock and randomness, on a Network. It turns the runtime's
 * callback API into promises for the embedding and client layers (the runtime itself stays
 * callback-based for the simulator's sake).
 *
 * A storage failure or a broken invariant stops the node (fatal): it stops answering, leaves
 * the network, and reports through `onFatal`; its stores stay open until close().
 */
import path from 'node:path';
import { TesseraError } from '../errors.ts';
import type { Network } from '../net/network.ts';
import { RaftNode, type Callback, type NodeObserver } from '../node/raft-node.ts';
import { SystemClock } from '../node/system-clock.ts';
import { SystemRandom } from '../node/system-random.ts';
import type { RaftStatus } from '../raft/raft.ts';
import type { Message, NodeId } from '../raft/types.ts';
import type { KvBlobTable } from '../store/kv-backend.ts';
import type { KvRecord } from '../store/kv-command.ts';
import type { KvApplyResult, KvEvent, KvRangeOptions, KvRangePage } from '../store/kv-state-machine.ts';
import { makeDataDirectory } from '../store/lmdb-env.ts';
import { LmdbKvStateMachine } from '../store/lmdb-kv.ts';
import { LmdbLogStore } from '../store/lmdb-log-store.ts';
import { checkClusterId } from '../util/cluster-id.ts';
import { checkNodeIdentity, readNodeIdentity, refuseOtherKind, writeNodeIdentity } from './identity.ts';
import { checkTuning, DEFAULT_TUNING, raftOptions, type NodeTuning } from './tuning.ts';

export interface NodeOptions extends NodeTuning {
  readonly id: NodeId;
  /** The node's directory; created if missing. */
  readonly dir: string;
  /** The voters of the cluster (whether this node's id is listed or not). */
  readonly peers: readonly NodeId[];
  /** The network the node sends and receives on. */
  readonly transport: Network;
  readonly clusterId: string;
  /** Called once if the node stops on its own (storage failure, corruption, a bug). */
  readonly onFatal?: (error: Error) => void;
  readonly observer?: NodeObserver;
}

interface ApplyWaiter {
  readonly after: number;
  readonly resolve: (applied: number) => void;
  readonly timer: NodeJS.Timeout;
}

export class Node {
  private closing: Promise<void> | null = null;
  private fatal: Error | null = null;
  private readonly waiters = new Set<ApplyWaiter>();
  private raft!: RaftNode;

  private constructor(
    readonly id: NodeId,
    readonly dir: string,
    private readonly network: Network,
    private readonly clock: SystemClock,
    private readonly logStore: LmdbLogStore,
    readonly stateMachine: LmdbKvStateMachine,
    private readonly onFatal: (error: Error) => void,
  ) {}

  /**
   * Opens the node's stores (creating them on first use) and starts it. Throws
   * IDENTITY_MISMATCH if `dir` belongs to another cluster or node, CORRUPTION if its data is
   * damaged, INVALID_ARGUMENT on bad options or a directory already open in this process.
   */
  static async open(options: NodeOptions): Promise<Node> {
    const { id, dir, clusterId } = options;
    if (!Number.isSafeInteger(id) || id < 1) throw new TesseraError('INVALID_ARGUMENT', `node id must be a positive integer, got ${id}`);
    checkClusterId(clusterId);
    checkTuning(options);
    const voters = [...new Set([...options.peers, id])].sort((a, b) => a - b);
    for (const v of voters) if (!Number.isSafeInteger(v) || v < 1) throw new TesseraError('INVALID_ARGUMENT', `bad peer id ${v}`);

    makeDataDirectory(dir);
    refuseOtherKind(dir, 'node');
    const identity = { clusterId, nodeId: id, voters };
    const recorded = readNodeIdentity(dir);
    if (recorded) checkNodeIdentity(dir, recorded, identity);
    const logStore = LmdbLogStore.open(path.join(dir, 'log'), { clusterId, nodeId: id, asyncCommits: true });
    let stateMachine: LmdbKvStateMachine | null = null;
    let registered = false;
    try {
      if (!recorded?.voters) writeNodeIdentity(dir, identity);
      stateMachine = LmdbKvStateMachine.open(path.join(dir, 'state'), {
        asyncCommits: true,
        lazyMetaSync: true,
        ...(options.kvLimits && { limits: options.kvLimits }),
        ...(options.stateCommitWindowMs !== undefined && { commitWindowMs: options.stateCommitWindowMs }),
      });
      let node: Node | null = null;
      const fatal = (e: unknown) => node?.fail(e);
      const clock = new SystemClock({ onError: fatal });
      node = new Node(id, dir, options.transport, clock, logStore, stateMachine, options.onFatal ?? (() => {}));
      node.raft = new RaftNode({
        id,
        voters,
        clock,
        random: new SystemRandom(),
        transport: options.transport.transportFor(id),
        logStore,
        stateMachine,
        tickMs: options.tickMs ?? DEFAULT_TUNING.tickMs,
        ...(options.requestTimeoutMs !== undefined && { requestTimeoutMs: options.requestTimeoutMs }),
        ...(options.snapshotEvery !== undefined && { snapshotEvery: options.snapshotEvery }),
        ...(options.snapshotChunkBytes !== undefined && { snapshotChunkBytes: options.snapshotChunkBytes }),
        ...(options.snapshotWindow !== undefined && { snapshotWindow: options.snapshotWindow }),
        raft: raftOptions(options),
        observer: node.observer(options.observer ?? {}),
        onFatal: fatal,
      });
      options.transport.register(id, (m) => node.receive(m));
      registered = true;
      node.raft.start();
      return node;
    } catch (e) {
      if (registered) options.transport.unregister(id);
      await Promise.allSettled([logStore.close(), stateMachine?.close()]);
      throw e;
    }
  }

  /** Why the node stopped on its own, or null. */
  get failure(): Error | null {
    return this.fatal;
  }

  /** Open and not failed: it takes part in the cluster. */
  get isUp(): boolean {
    return this.closing === null && this.fatal === null;
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  isLeader(): boolean {
    return this.isUp && this.raft.isLeader();
  }

  /** The leader this node follows (itself if leading), 0 if it knows none. */
  leaderHint(): NodeId {
    return this.isUp ? this.raft.leaderHint() : 0;
  }

  appliedIndex(): number {
    this.checkReadable();
    return this.stateMachine.appliedIndex();
  }

  /** Replicates an encoded KvCommand; resolves with its result once applied on this node. */
  propose(command: Uint8Array): Promise<KvApplyResult> {
    return this.call<KvApplyResult>((cb) => this.raft.propose(command, cb as Callback<unknown>));
  }

  /** ReadIndex: resolves with the read index once this node's state machine has applied it. */
  readBarrier(): Promise<number> {
    return this.call<number>((cb) => this.raft.readBarrier(cb));
  }

  /** As readBarrier, without a heartbeat round while the leader's lease holds (needs leaseReads). */
  leaseReadBarrier(): Promise<number> {
    return this.call<number>((cb) => this.raft.leaseReadBarrier(cb));
  }

  get(key: Uint8Array): KvRecord | null {
    this.checkReadable();
    return this.stateMachine.get(key);
  }

  range(start: Uint8Array, end: Uint8Array | null, options?: KvRangeOptions): KvRangePage {
    this.checkReadable();
    return this.stateMachine.range(start, end, options);
  }

  readTable(table: KvBlobTable, key: Uint8Array): Uint8Array | null {
    this.checkReadable();
    return this.stateMachine.readTable(table, key);
  }

  events(fromRevision: number, limit: number, fromSub = 0): KvEvent[] {
    this.checkReadable();
    return this.stateMachine.events(fromRevision, limit, fromSub);
  }

  /**
   * Resolves with the applied index once it exceeds `after`, or when `timeoutMs` passes or the
   * node stops (with the index then): how watchers sleep without polling. While it waits, the
   * state machine commits each batch as soon as it ran (commitSoon): reads see a batch only
   * once it committed, and its commit group could otherwise stay open for its whole window.
   */
  waitApplied(after: number, timeoutMs: number): Promise<number> {
    const applied = this.isUp ? this.stateMachine.appliedIndex() : 0;
    if (applied > after || !this.isUp) return Promise.resolve(applied);
    return new Promise((resolve) => {
      const waiter: ApplyWaiter = {
        after,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(this.isUp ? this.stateMachine.appliedIndex() : 0);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      // A batch that already ran may be what it waits for: its commit group need not stay open.
      this.stateMachine.commitSoon();
    });
  }

  transferLeader(to: NodeId): void {
    this.checkUp();
    this.raft.transferLeader(to);
  }

  campaign(): void {
    this.checkUp();
    this.raft.campaign();
  }

  /** Stops the node and closes its stores. Idempotent; pending requests fail with CLOSED. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.halt();
      const results = await Promise.allSettled([this.logStore.close(), this.stateMachine.close()]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    })();
    return this.closing;
  }

  private receive(m: Message): void {
    try {
      this.raft.receive(m);
    } catch (e) {
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    if (this.fatal !== null || this.closing !== null) return;
    this.fatal = e instanceof Error ? e : new TesseraError('INVARIANT', `node ${this.id}: ${String(e)}`);
    this.halt();
    this.onFatal(this.fatal);
  }

  /** Everything but closing the stores: no timers, no messages, no pending requests. */
  private halt(): void {
    this.raft.stop();
    this.network.unregister(this.id);
    this.clock.close();
    this.wakeWaiters(true);
  }

  private observer(user: NodeObserver): NodeObserver {
    return {
      ...user,
      applied: (node, entries) => {
        user.applied?.(node, entries);
        this.wakeWaiters(false);
      },
      ran: (node, entries) => {
        user.ran?.(node, entries);
        // Someone waits for applies (a watch, a read of a revision): this batch commits now
        // rather than at the end of its commit window, which reads could not see before.
        if (this.waiters.size > 0) this.stateMachine.commitSoon();
      },
      snapshotInstalled: (node, snapshot) => {
        user.snapshotInstalled?.(node, snapshot);
        this.wakeWaiters(false);
      },
    };
  }

  private wakeWaiters(all: boolean): void {
    if (this.waiters.size === 0) return;
    const applied = all ? 0 : this.stateMachine.appliedIndex();
    for (const w of this.waiters) {
      if (!all && applied <= w.after) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(applied);
    }
  }

  private call<T>(request: (cb: Callback<T>) => void): Promise<T> {
    if (!this.isUp) return Promise.reject(this.downError());
    return new Promise<T>((resolve, reject) => request((err, value) => (err ? reject(err) : resolve(value as T))));
  }

  private checkUp(): void {
    if (!this.isUp) throw this.downError();
  }

  /** Local reads stay possible on a failed node (its stores are open) until close(). */
  private checkReadable(): void {
    if (this.closing !== null) throw this.downError();
  }

  private downError(): TesseraError {
    return this.fatal
      ? new TesseraError('CLOSED', `node ${this.id} stopped after a failure: ${this.fatal.message}`, { cause: this.fatal })
      : new TesseraError('CLOSED', `node ${this.id} is closed`);
  }
}

