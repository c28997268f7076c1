/** Test helpers that look at a node's Raft log (its compaction, its entries), which the public API does not expose. */
import type { Node } from '../../src/cluster/node.ts';
import type { RaftNode } from '../../src/node/raft-node.ts';
import type { Entry } from '../../src/raft/types.ts';

/**
 * A node's first log index. Neither Node nor RaftStatus exposes it (nor the last snapshot
 * index, nor the entries), so these reach through Node's private `raft` (a RaftNode) to
 * RaftNode.raft.log, public from there on. Test-only.
 */
export function firstLogIndex(node: Node): number {
  return raftLog(node).firstIndex();
}

/** Entries lo..hi-1 of a node's log. */
export function logEntries(node: Node, lo: number, hi: number): Entry[] {
  return raftLog(node).entries(lo, hi, Infinity);
}

function raftLog(node: Node) {
  return (node as unknown as { raft: RaftNode }).raft.raft.log;
}

/**
 * Waits until `node`'s log no longer holds entry `index`: it snapshotted past it (its applied
 * index moves when the state machine commits a group of batches) and the compaction took effect
 * (when the snapshot's log write committed). A follower that needs that entry must then catch up
 * by snapshot.
 */
export async function compactedPast(node: Node, index: number, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (firstLogIndex(node) <= index) {
    if (performance.now() > deadline) throw new Error(`node ${node.id} still holds entry ${index} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
