/**
 * The leader may send its appends while it is still writing them (thesis §10.2.1): its own copy
 * counts toward commit only once the runtime reports it persisted (advance), so an entry is
 * committed only when a quorum holds it durably, whether or not the leader is one of them.
 */
import { describe, expect, it } from 'vitest';
import type { Message, Ready } from '../../src/raft/types.ts';
import { Network } from './harness.ts';

const data = new TextEncoder().encode('x');

/** Steps a message into a node and persists/advances its Readies, collecting what it sends. */
function deliver(net: Network, m: Message): Message[] {
  const n = net.node(m.to);
  n.raft.step(m);
  const out: Message[] = [];
  while (n.raft.hasReady()) {
    const rd = n.raft.ready();
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.hardState = rd.hardState;
    out.push(...rd.messages);
    n.raft.advance(rd);
  }
  return out;
}

describe('the leader writes in parallel with replicating', () => {
  it('one follower ack plus the leader write still in flight does not commit; the leader persisting then does', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    const leader = net.raft(1);
    const before = leader.status().commit;
    leader.propose(data);
    const rd: Ready = leader.ready(); // the leader's write is now "in flight": no advance yet
    const index = rd.entries[rd.entries.length - 1]!.index;
    const appToFollower2 = rd.messages.filter((m) => m.type === 'app' && m.to === 2);
    expect(appToFollower2.length).toBeGreaterThan(0);
    // Follower 2 persists and acknowledges; follower 3 hears nothing.
    for (const m of appToFollower2) for (const resp of deliver(net, m)) if (resp.to === 1) leader.step(resp);
    expect(leader.status().commit).toBe(before);
    // The leader's write completes: now two durable copies out of three.
    net.node(1).storage.append(rd.entries);
    leader.advance(rd);
    expect(leader.status().commit).toBe(index);
  });

  it('two follower acks commit while the leader write is still in flight (a quorum without the leader)', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    const leader = net.raft(1);
    leader.propose(data);
    const rd = leader.ready();
    const index = rd.entries[rd.entries.length - 1]!.index;
    for (const m of rd.messages.filter((x) => x.type === 'app')) for (const resp of deliver(net, m)) if (resp.to === 1) leader.step(resp);
    expect(leader.status().commit).toBe(index);
  });

  it('a single node commits its entry only after persisting it', () => {
    const net = new Network([1]);
    net.campaign(1);
    const r = net.raft(1);
    const before = r.status().commit;
    r.propose(data);
    const rd = r.ready();
    expect(rd.committed.map((e) => e.index)).not.toContain(rd.entries[0]!.index);
    expect(r.status().commit).toBe(before);
    net.node(1).storage.append(rd.entries);
    r.advance(rd);
    expect(r.status().commit).toBe(rd.entries[rd.entries.length - 1]!.index);
    expect(r.ready().committed.map((e) => e.index)).toContain(rd.entries[0]!.index);
  });
});
