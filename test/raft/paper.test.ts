/**
 * Scenarios from the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable
 * Consensus Algorithm") and the thesis extensions (pre-vote, check-quorum, leader transfer),
 * each its own test, run against the pure core.
 */
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../src/errors.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { MemStorage, Network } from './harness.ts';

function withLogs(logs: Record<number, number[]>, term: number): Map<NodeId, MemStorage> {
  const m = new Map<NodeId, MemStorage>();
  for (const [id, terms] of Object.entries(logs)) {
    const s = MemStorage.withTerms(terms);
    s.hardState = { term, vote: 0, commit: 0 };
    m.set(Number(id), s);
  }
  return m;
}

function logTerms(net: Network, id: NodeId): number[] {
  const r = net.raft(id);
  const out: number[] = [];
  for (let i = 1; i <= r.log.lastIndex(); i++) out.push(r.log.term(i)!);
  return out;
}

describe('§5.2 leader election', () => {
  it('split votes elect nobody, then exactly one leader per term', () => {
    const net = new Network([1, 2, 3, 4], { cfg: { preVote: false } });
    // 3 only hears 1, 4 only hears 2: two candidates with two votes each, no majority of 4.
    net.drop((m) => m.type === 'vote' && ((m.from === 1 && m.to === 4) || (m.from === 2 && m.to === 3)));
    net.raft(1).campaignNow();
    net.raft(2).campaignNow();
    net.deliverAll();
    expect(net.leaders()).toEqual([]);
    expect(net.raft(1).role).toBe('candidate');
    expect(net.raft(2).role).toBe('candidate');
    net.heal();
    // Randomized timeouts break the tie; record every (term, leader) seen along the way.
    const leadersByTerm = new Map<number, Set<NodeId>>();
    for (let t = 0; t < 200 && net.leaders().length === 0; t++) {
      net.tickAll();
      for (const id of net.leaders()) {
        const term = net.raft(id).term;
        if (!leadersByTerm.has(term)) leadersByTerm.set(term, new Set());
        leadersByTerm.get(term)!.add(id);
      }
    }
    expect(net.leaders()).toHaveLength(1);
    for (const [, ids] of leadersByTerm) expect(ids.size).toBe(1);
    expect(net.raft(net.leaders()[0]!).term).toBeGreaterThan(1);
  });

  it('a candidate steps down when it sees a higher term', () => {
    const net = new Network([1, 2, 3], { cfg: { preVote: false } });
    net.isolate(1);
    net.campaign(1);
    expect(net.raft(1).role).toBe('candidate');
    expect(net.raft(1).term).toBe(1);
    net.heal();
    net.campaign(2);
    net.campaign(2); // term 2 then 3 (first one wins already; second is a no-op for a leader)
    expect(net.raft(2).role).toBe('leader');
    // Node 1 heard term >= 2 from node 2 and is now its follower.
    expect(net.raft(1).role).toBe('follower');
    expect(net.raft(1).lead).toBe(2);
    expect(net.raft(1).term).toBe(net.raft(2).term);
  });

  it('a leader steps down on a higher-term message (stale leader after partition)', () => {
    // Without check-quorum the cut-off leader keeps believing it leads.
    const net = new Network([1, 2, 3], { cfg: { checkQuorum: false } });
    net.campaign(1);
    expect(net.raft(1).role).toBe('leader');
    net.isolate(1);
    net.tick(2, 40);
    expect(net.raft(2).role).toBe('leader');
    expect(net.raft(1).role).toBe('leader');
    net.heal();
    net.tick(1, 1); // heartbeat from the stale leader gets an answer carrying the new term
    expect(net.raft(1).role).toBe('follower');
    expect(net.raft(1).term).toBe(net.raft(2).term);
  });
});

describe('§5.4.1 election restriction', () => {
  it('a voter denies a candidate whose log is less up to date', () => {
    // Candidate 1 has [1]; voters have [1, 1] (longer, same last term).
    const net = new Network([1, 2, 3], { storages: withLogs({ 1: [1], 2: [1, 1], 3: [1, 1] }, 1), cfg: { preVote: false } });
    net.campaign(1);
    expect(net.raft(1).role).not.toBe('leader');
    // A candidate with a higher last term wins even with a shorter log.
    const net2 = new Network([1, 2, 3], { storages: withLogs({ 1: [1, 2], 2: [1, 1, 1], 3: [1, 1, 1] }, 2), cfg: { preVote: false } });
    net2.campaign(1);
    expect(net2.raft(1).role).toBe('leader');
  });

  it('a new leader holds every committed entry', () => {
    const net = new Network([1, 2, 3, 4, 5]);
    net.campaign(1);
    net.isolate(5);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    const committed = net.raft(1).log.committed;
    net.heal();
    net.isolate(1);
    // 5 lacks the entries: it cannot win; whoever wins holds all of them.
    for (let t = 0; t < 100 && net.leaders().filter((id) => id !== 1).length === 0; t++) net.tickAll();
    const leader = net.leaders().find((id) => id !== 1)!;
    expect(leader).toBeDefined();
    expect(leader).not.toBe(5);
    expect(net.raft(leader).log.lastIndex()).toBeGreaterThanOrEqual(committed);
  });
});

describe('§5.3 log replication', () => {
  // Figure 7: the leader for term 8 and followers (a)-(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  for (const [name, flog] of Object.entries(followers)) {
    it(`Figure 7 follower (${name}) is repaired by the new leader`, () => {
      // Node 3 (empty log) supplies the second vote, as in etcd's TestLeaderSyncFollowerLog.
      const storages = withLogs({ 1: leaderLog, 2: flog, 3: [] }, 7);
      const net = new Network([1, 2, 3], { storages, cfg: { preVote: false } });
      net.campaign(1);
      expect(net.raft(1).role).toBe('leader');
      expect(net.raft(1).term).toBe(8);
      net.propose(1, 'x');
      expect(logTerms(net, 2)).toEqual(logTerms(net, 1));
      expect(logTerms(net, 1)).toEqual([...leaderLog, 8, 8]);
      expect(net.raft(2).log.committed).toBe(leaderLog.length + 2);
    });
  }

  it('log matching holds after conflicting suffixes are replaced', () => {
    const storages = withLogs({ 1: [1, 2, 2], 2: [1, 3, 3, 3], 3: [1, 2, 2] }, 3);
    const net = new Network([1, 2, 3], { storages, cfg: { preVote: false } });
    net.campaign(2); // 2 has the highest last term
    expect(net.raft(2).role).toBe('leader');
    net.propose(2, 'a');
    net.propose(2, 'b');
    const ref = logTerms(net, 2);
    for (const id of [1, 3]) expect(logTerms(net, id)).toEqual(ref);
    // Same (index, term) means identical entries at and before that index.
    for (const id of [1, 3]) {
      for (let i = 1; i <= ref.length; i++) {
        const [a] = net.raft(id).log.entries(i, i + 1, 1 << 20);
        const [b] = net.raft(2).log.entries(i, i + 1, 1 << 20);
        expect(a!.term).toBe(b!.term);
        expect(Buffer.from(a!.data).equals(Buffer.from(b!.data))).toBe(true);
      }
    }
  });

  it('fast back-off needs far fewer round trips than one entry at a time', () => {
    const conflict = 50;
    const leaderLog = [1, ...Array<number>(conflict).fill(3)];
    const followerLog = [1, ...Array<number>(conflict).fill(2)];
    const net = new Network([1, 2, 3], { storages: withLogs({ 1: leaderLog, 2: followerLog, 3: leaderLog }, 3), cfg: { preVote: false } });
    net.campaign(1);
    net.propose(1, 'x');
    expect(logTerms(net, 2)).toEqual(logTerms(net, 1));
    const rejections = net.delivered.filter((m) => m.type === 'appResp' && m.reject && m.from === 2).length;
    // One entry at a time would take `conflict` rejections.
    expect(rejections).toBeGreaterThan(0);
    expect(rejections).toBeLessThanOrEqual(2);
  });
});

describe('§5.4.2 committing entries from previous terms (Figure 8)', () => {
  it('a leader never commits an old-term entry by counting replicas', () => {
    // Node 1 holds entry 2 from term 2, uncommitted; it becomes leader in term 3.
    const storages = withLogs({ 1: [1, 2], 2: [1], 3: [1], 4: [1], 5: [1] }, 2);
    for (const s of storages.values()) s.hardState = { term: 2, vote: 0, commit: 1 };
    // One entry per append, so the old entry travels alone.
    const net = new Network([1, 2, 3, 4, 5], { storages, cfg: { preVote: false, maxSizePerMsg: 1 } });
    // Entries of the new term never arrive at a follower that could accept them.
    net.drop((m) => m.type === 'app' && m.entries.some((e) => e.term === 3) && net.raft(m.to).log.lastIndex() >= m.index);
    net.campaign(1);
    expect(net.raft(1).role).toBe('leader');
    expect(net.raft(1).term).toBe(3);
    net.tick(1, 3);
    // Entry 2 (term 2) is now on nodes 1, 2, 3, 4, 5: a majority, and still not committed.
    const replicas = [1, 2, 3, 4, 5].filter((id) => net.raft(id).log.term(2) === 2).length;
    expect(replicas).toBeGreaterThanOrEqual(3);
    expect(net.raft(1).log.committed).toBe(1);
    // Once the term-3 entry reaches a majority, both commit together.
    net.heal();
    net.tick(1, 1);
    expect(net.raft(1).log.committed).toBe(3);
  });
});

describe('pre-vote and check-quorum (thesis §9.6)', () => {
  it('dueling pre-candidates elect one leader without inflating terms', () => {
    const net = new Network([1, 2, 3]);
    net.cut(1, 3);
    net.raft(1).campaignNow();
    net.raft(3).campaignNow();
    net.deliverAll();
    expect(net.leaders()).toEqual([1]);
    expect(net.raft(1).term).toBe(1);
    net.heal();
    net.tick(1, 1);
    expect(net.leaders()).toEqual([1]);
    expect(net.raft(3).role).toBe('follower');
    expect(net.raft(3).term).toBe(1);
  });

  it('a partitioned node rejoining does not disrupt the leader', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    const term = net.raft(1).term;
    net.isolate(3);
    net.tick(3, 100); // many election timeouts alone: pre-votes fail, the term stays
    expect(net.raft(3).term).toBe(term);
    net.heal();
    net.tickAll(3);
    expect(net.leaders()).toEqual([1]);
    expect(net.raft(1).term).toBe(term);
    expect(net.raft(3).lead).toBe(1);
  });

  it('without pre-vote the same rejoin does disrupt the leader (control)', () => {
    const net = new Network([1, 2, 3], { cfg: { preVote: false, checkQuorum: false } });
    net.campaign(1);
    const term = net.raft(1).term;
    net.isolate(3);
    net.tick(3, 100);
    expect(net.raft(3).term).toBeGreaterThan(term);
    net.heal();
    net.tickAll(30);
    expect(net.raft(1).term).toBeGreaterThan(term);
  });

  it('a leader that loses its quorum steps down', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.isolate(1);
    // Peers were active in the window before the cut, so it takes at most two election timeouts.
    net.tick(1, 20);
    expect(net.raft(1).role).toBe('follower');
    expect(net.raft(1).lead).toBe(0);
  });

  it('followers ignore vote requests while they hear a live leader', () => {
    const net = new Network([1, 2, 3], { cfg: { preVote: false } });
    net.campaign(1);
    const term = net.raft(1).term;
    net.cut(1, 3); // 3 stops hearing the leader and campaigns; 2 still hears it
    net.tick(3, 25);
    expect(net.raft(2).term).toBe(term);
    expect(net.raft(2).lead).toBe(1);
    expect(net.raft(3).role).not.toBe('leader');
  });
});

describe('leader transfer', () => {
  it('catches a lagging follower up, then hands over with TimeoutNow', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `v${i}`);
    const last = net.raft(1).log.lastIndex();
    net.heal();
    let dropped = false;
    try {
      net.raft(1).transferLeader(3);
      net.raft(1).propose(new Uint8Array(1));
    } catch (e) {
      dropped = isTesseraError(e, 'PROPOSAL_DROPPED');
    }
    expect(dropped).toBe(true);
    net.tick(1, 1);
    expect(net.raft(3).role).toBe('leader');
    expect(net.raft(3).log.lastIndex()).toBeGreaterThan(last);
    expect(net.raft(1).role).toBe('follower');
    const timeoutNow = net.delivered.findIndex((m) => m.type === 'timeoutNow');
    const caughtUp = net.delivered.findIndex((m) => m.type === 'appResp' && m.from === 3 && !m.reject && m.index >= last);
    expect(caughtUp).toBeGreaterThanOrEqual(0);
    expect(timeoutNow).toBeGreaterThan(caughtUp);
  });
});

describe('proposals, flow control and reads', () => {
  it('rejects proposals with typed errors when there is no leader or it is elsewhere', () => {
    const net = new Network([1, 2, 3]);
    expect(() => net.raft(1).propose(new Uint8Array(1))).toThrow(/NO_LEADER/);
    net.campaign(1);
    try {
      net.raft(2).propose(new Uint8Array(1));
      expect.unreachable();
    } catch (e) {
      expect(isTesseraError(e, 'NOT_LEADER')).toBe(true);
      expect((e as { leaderHint: number }).leaderHint).toBe(1);
    }
  });

  it('maxUncommittedBytes rejects proposals with UNCOMMITTED_LIMIT', () => {
    const net = new Network([1, 2, 3], { cfg: { maxUncommittedBytes: 100 } });
    net.campaign(1);
    net.isolate(1); // nothing commits
    net.raft(1).propose(new Uint8Array(60));
    expect(() => net.raft(1).propose(new Uint8Array(60))).toThrow(/UNCOMMITTED_LIMIT/);
    net.heal();
    net.tick(1, 1);
    net.raft(1).propose(new Uint8Array(60)); // committed bytes were released
  });

  it('the inflight window bounds unacknowledged appends per follower', () => {
    const net = new Network([1, 2, 3], { cfg: { maxInflightMsgs: 4 } });
    net.campaign(1);
    net.drop((m) => m.type === 'appResp');
    const before = net.delivered.length;
    for (let i = 0; i < 20; i++) net.propose(1, `v${i}`);
    const apps = net.delivered.slice(before).filter((m) => m.type === 'app' && m.to === 2 && m.entries.length > 0);
    expect(apps.length).toBeLessThanOrEqual(4);
  });

  it('maxSizePerMsg bounds the entries in one append', () => {
    const net = new Network([1, 2, 3], { cfg: { maxSizePerMsg: 200 } });
    net.campaign(1);
    net.isolate(2);
    for (let i = 0; i < 10; i++) net.raft(1).propose(new Uint8Array(100));
    net.deliverAll();
    net.heal();
    const before = net.delivered.length;
    net.tick(1, 1);
    const apps = net.delivered.slice(before).filter((m) => m.type === 'app' && m.to === 2);
    expect(apps.length).toBeGreaterThan(1);
    for (const m of apps) expect(m.entries.length).toBeLessThanOrEqual(1);
    expect(net.raft(2).log.lastIndex()).toBe(net.raft(1).log.lastIndex());
  });

  it('ReadIndex confirms leadership with a quorum before answering', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    net.raft(1).readIndex('r1');
    net.deliverAll();
    expect(net.node(1).readStates).toEqual([{ index: net.raft(1).log.committed, context: 'r1' }]);
    // A follower's read is forwarded to the leader and answered with its commit index.
    net.raft(2).readIndex('r2');
    net.deliverAll();
    expect(net.node(2).readStates).toEqual([{ index: net.raft(1).log.committed, context: 'r2' }]);
    // An isolated leader cannot confirm a read.
    net.isolate(1);
    net.raft(1).readIndex('r3');
    net.deliverAll();
    expect(net.node(1).readStates.map((r) => r.context)).toEqual(['r1']);
  });
});
