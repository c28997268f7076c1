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
}
