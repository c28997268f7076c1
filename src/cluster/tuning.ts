/**
 * Timing and size knobs of a node. Production defaults: 100 ms ticks, elections after 10-20
 * ticks (1-2 s), a heartbeat every tick. Tests shrink tickMs to make elections take ~100-200 ms;
 * the ratios between the knobs are what Raft's liveness depends on, not their absolute values.
 */
import { checkRuntimeOptions } from '../node/runtime-options.ts';
import { raftConfig, type RaftConfig } from '../raft/config.ts';
import type { KvLimits } from '../store/kv-limits.ts';

export interface NodeTuning {
  /** Milliseconds per Raft tick. Default 100. */
  readonly tickMs?: number;
  /** Ticks without a leader before a follower campaigns (randomized in [T, 2T)). Default 10. */
  readonly electionTick?: number;
  /** Ticks between a leader's heartbeats. Default 1. */
  readonly heartbeatTick?: number;
  /** A node fails pending proposals and reads with TIMEOUT after this long. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  readonly snapshotEvery?: number;
  readonly snapshotChunkBytes?: number;
  readonly snapshotWindow?: number;
  /**
   * Lease reads (consistency 'lease'), safe only while no two nodes' clocks drift apart by more
   * than maxClockDrift within an election timeout. Node default: off (null). Cluster default:
   * on with 0.05, because its nodes share one process and one clock.
   */
  readonly leaseReads?: { readonly maxClockDrift: number } | null;
  /** Further Raft settings (message and inflight sizes, pre-vote, check-quorum). */
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'voters' | 'applied' | 'electionTick' | 'heartbeatTick' | 'leaseReads'>>;
  /**
   * How long a node's state machine lets apply batches share one LMDB commit (one flush; the
   * log replays a group a crash loses). Whatever waits for a batch in an open group (a read
   * barrier, a watch, a read of a client's own revision) ends it at once, so it never waits out
   * the window. Default STATE_COMMIT_WINDOW_MS (200 ms).
   */
  readonly stateCommitWindowMs?: number;
  /** State-machine limits; part of the replicated semantics, so the same on every node. */
  readonly kvLimits?: KvLimits;
}

export const DEFAULT_TUNING = Object.freeze({ tickMs: 100, electionTick: 10, heartbeatTick: 1 });

/** The Raft settings a node with this tuning runs with (id, voters and applied are the node's). */
export function raftOptions(t: NodeTuning): Partial<RaftConfig> {
  return {
    ...t.raft,
    electionTick: t.electionTick ?? DEFAULT_TUNING.electionTick,
    heartbeatTick: t.heartbeatTick ?? DEFAULT_TUNING.heartbeatTick,
    leaseReads: t.leaseReads ?? null,
  };
}

/**
 * INVALID_ARGUMENT for a bad knob, before anything is opened or written: the node's own options
 * and its Raft settings (tried on a stand-in id and voter set; the node checks its real ones).
 */
export function checkTuning(t: NodeTuning): void {
  checkRuntimeOptions(t);
  raftConfig({ ...raftOptions(t), id: 1, voters: [1] });
}

/** The longest a healthy follower waits before campaigning (2T ticks). */
export function maxElectionTimeoutMs(t: NodeTuning): number {
  return 2 * (t.electionTick ?? DEFAULT_TUNING.electionTick) * (t.tickMs ?? DEFAULT_TUNING.tickMs);
}
