import { TesseraError } from '../errors.ts';
import {
  DEFAULT_MAX_INFLIGHT_BYTES,
  DEFAULT_MAX_INFLIGHT_MSGS,
  DEFAULT_MAX_SIZE_PER_MSG,
  DEFAULT_MAX_UNCOMMITTED_BYTES,
  MAX_MESSAGE_BYTES,
} from '../limits.ts';
import type { NodeId } from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Initial voters when the log store holds no snapshot (a fresh cluster). */
  readonly voters: readonly NodeId[];
  /** Ticks without hearing a leader before a follower campaigns (randomized in [T, 2T)). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats. Must be < electionTick. */
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  /** Bytes of committed entries handed out per Ready. */
  readonly maxCommittedBytesPerReady: number;
  /** Last index the state machine applied (on restart). */
  readonly applied: number;
  /**
   * Opt-in lease reads: the leader answers reads from its own state while a quorum's heartbeat
   * acknowledgements prove no other leader can exist. Safe only if no two clocks drift apart by
   * more than `maxClockDrift` (a fraction: 0.05 = 5%) within an election timeout. Requires checkQuorum.
   */
  readonly leaseReads: { readonly maxClockDrift: number } | null;
}

export function raftConfig(partial: Partial<RaftConfig> & Pick<RaftConfig, 'id' | 'voters'>): RaftConfig {
  const cfg: RaftConfig = {
    electionTick: 10,
    heartbeatTick: 1,
    preVote: true,
    checkQuorum: true,
    maxSizePerMsg: DEFAULT_MAX_SIZE_PER_MSG,
    maxInflightMsgs: DEFAULT_MAX_INFLIGHT_MSGS,
    maxInflightBytes: DEFAULT_MAX_INFLIGHT_BYTES,
    maxUncommittedBytes: DEFAULT_MAX_UNCOMMITTED_BYTES,
    maxCommittedBytesPerReady: DEFAULT_MAX_SIZE_PER_MSG * 16,
    applied: 0,
    leaseReads: null,
    ...partial,
  };
  validate(cfg);
  return cfg;
}

function validate(c: RaftConfig): void {
  const bad = (what: string) => {
    throw new TesseraError('INVALID_ARGUMENT', `raft config: ${what}`);
  };
  if (!Number.isInteger(c.id) || c.id <= 0) bad('id must be a positive integer');
  if (c.heartbeatTick < 1) bad('heartbeatTick must be >= 1');
  if (c.electionTick <= c.heartbeatTick) bad('electionTick must be > heartbeatTick');
  if (c.maxInflightMsgs < 1) bad('maxInflightMsgs must be >= 1');
  if (c.maxSizePerMsg < 1 || c.maxSizePerMsg > MAX_MESSAGE_BYTES / 2) bad(`maxSizePerMsg must be in [1, ${MAX_MESSAGE_BYTES / 2}]`);
  if (c.maxUncommittedBytes < 1) bad('maxUncommittedBytes must be >= 1');
  if (new Set(c.voters).size !== c.voters.length) bad('voters must be distinct');
  if (c.applied < 0) bad('applied must be >= 0');
  if (c.leaseReads) {
    if (!c.checkQuorum) bad('leaseReads requires checkQuorum');
    const d = c.leaseReads.maxClockDrift;
    if (!(d >= 0 && d < 0.5)) bad('leaseReads.maxClockDrift must be in [0, 0.5)');
    if (leaseTicks(c) < 1) bad('electionTick too small for a lease with this clock drift bound');
  }
}

/**
 * Ticks a lease lasts after the heartbeat that a quorum acknowledged was sent. A follower that
 * got it refuses votes for electionTick of its own ticks; we give up two ticks for tick phase
 * (ours and theirs) and the drift allowance.
 */
export function leaseTicks(c: RaftConfig): number {
  if (!c.leaseReads) return 0;
  return c.electionTick - 2 - Math.ceil(c.electionTick * c.leaseReads.maxClockDrift);
}
