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

const DEFAULTS: Omit<RaftConfig, 'id' | 'voters'> = {
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
};

/** A misspelt option would otherwise be ignored without a word. */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([...Object.keys(DEFAULTS), 'id', 'voters']);

export function raftConfig(partial: Partial<RaftConfig> & Pick<RaftConfig, 'id' | 'voters'>): RaftConfig {
  const cfg: RaftConfig = { ...DEFAULTS, ...partial };
  validate(cfg);
  return cfg;
}

function validate(c: RaftConfig): void {
  const bad = (what: string) => {
    throw new TesseraError('INVALID_ARGUMENT', `raft config: ${what}`);
  };
  for (const key of Object.keys(c)) if (!KNOWN_OPTIONS.has(key)) bad(`unknown option ${key}`);
  // Integers, so that NaN (which fails every comparison) cannot slip past a bound.
  const count = (what: keyof RaftConfig, n: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isSafeInteger(n) || n < min || n > max) bad(`${what} must be an integer in [${min}, ${max}], got ${String(n)}`);
  };
  count('id', c.id, 1);
  count('heartbeatTick', c.heartbeatTick, 1);
  count('electionTick', c.electionTick, 1);
  if (c.electionTick <= c.heartbeatTick) bad('electionTick must be > heartbeatTick');
  count('maxInflightMsgs', c.maxInflightMsgs, 1);
  count('maxSizePerMsg', c.maxSizePerMsg, 1, MAX_MESSAGE_BYTES / 2);
  count('maxInflightBytes', c.maxInflightBytes, 1);
  count('maxUncommittedBytes', c.maxUncommittedBytes, 1);
  count('maxCommittedBytesPerReady', c.maxCommittedBytesPerReady, 1);
  count('applied', c.applied, 0);
  if (typeof c.preVote !== 'boolean' || typeof c.checkQuorum !== 'boolean') bad('preVote and checkQuorum must be booleans');
  if (!Array.isArray(c.voters)) bad('voters must be an array of node ids');
  for (const v of c.voters) count('voters', v, 1);
  if (new Set(c.voters).size !== c.voters.length) bad('voters must be distinct');
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
