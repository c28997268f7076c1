import { describe, expect, it } from 'vitest';
import { raftConfig, type RaftConfig } from '../../src/raft/config.ts';

const base = { id: 1, voters: [1, 2, 3] } as const;

describe('raftConfig', () => {
  it('fills in the defaults and keeps what it is given', () => {
    const c = raftConfig({ ...base, electionTick: 20, preVote: false });
    expect(c).toMatchObject({ id: 1, voters: [1, 2, 3], electionTick: 20, heartbeatTick: 1, preVote: false, checkQuorum: true, leaseReads: null });
  });

  it('refuses every malformed setting with INVALID_ARGUMENT, NaN included', () => {
    const bad: [Partial<Record<keyof RaftConfig | 'electionTicks', unknown>>, RegExp][] = [
      [{ electionTicks: 10 }, /unknown option electionTicks/],
      [{ electionTick: Number.NaN }, /electionTick must be an integer/],
      [{ heartbeatTick: Number.NaN }, /heartbeatTick must be an integer/],
      [{ electionTick: 10.5 }, /electionTick must be an integer/],
      [{ electionTick: 3, heartbeatTick: 3 }, /electionTick must be > heartbeatTick/],
      [{ maxSizePerMsg: Number.POSITIVE_INFINITY }, /maxSizePerMsg must be an integer in \[1, 4194304\]/],
      [{ maxInflightBytes: 0 }, /maxInflightBytes/],
      [{ maxCommittedBytesPerReady: -1 }, /maxCommittedBytesPerReady/],
      [{ maxUncommittedBytes: Number.NaN }, /maxUncommittedBytes/],
      [{ applied: -1 }, /applied/],
      [{ preVote: 'yes' }, /must be booleans/],
      [{ id: 0 }, /id must be an integer/],
      [{ voters: [1, 1] }, /distinct/],
      [{ voters: [1, Number.NaN] }, /voters must be an integer/],
    ];
    for (const [partial, message] of bad) {
      expect(() => raftConfig({ ...base, ...(partial as Partial<RaftConfig>) }), JSON.stringify(partial)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }),
      );
    }
  });
});
