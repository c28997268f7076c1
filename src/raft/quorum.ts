/**
 * Quorum arithmetic over a configuration held as data. `outgoing` is non-empty only during
 * joint consensus (a later issue); both halves must then agree, so nothing here changes when
 * membership changes arrive.
 */
import type { NodeId } from './types.ts';

export interface VoterConfig {
  readonly incoming: readonly NodeId[];
  readonly outgoing: readonly NodeId[];
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Largest index acknowledged by a majority of `voters` (Infinity-free: an empty config commits nothing new). */
export function majorityCommitted(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.MAX_SAFE_INTEGER; // an absent half of a joint config never blocks
  const matched = voters.map(matchOf).sort((a, b) => b - a);
  return matched[Math.floor(voters.length / 2)] ?? 0;
}

export function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.length / 2) + 1;
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

export function committedIndex(cfg: VoterConfig, matchOf: (id: NodeId) => number): number {
  return Math.min(majorityCommitted(cfg.incoming, matchOf), majorityCommitted(cfg.outgoing, matchOf));
}

export function voteResult(cfg: VoterConfig, votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  const a = majorityVote(cfg.incoming, votes);
  const b = majorityVote(cfg.outgoing, votes);
  if (a === 'won' && b === 'won') return 'won';
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}

/** True when the ids in `active` form a quorum of the configuration. */
export function isQuorum(cfg: VoterConfig, active: (id: NodeId) => boolean): boolean {
  const votes = new Map<NodeId, boolean>();
  for (const id of [...cfg.incoming, ...cfg.outgoing]) votes.set(id, active(id));
  return voteResult(cfg, votes) === 'won';
}

export function allVoters(cfg: VoterConfig): NodeId[] {
  return [...new Set([...cfg.incoming, ...cfg.outgoing])].sort((a, b) => a - b);
}
