/**
 * What the client needs from one node. The in-process cluster implements it over a Node; a
 * remote (TCP) client can implement it over the network and reuse all of the client's logic:
 * leader discovery, redirects, retries under one session, timeouts, paging and watch resume.
 *
 * Error contract (the client's retry decisions depend on it): a node that is down, stopped or
 * unreachable rejects with TesseraError('CLOSED'); a node that is not the leader with
 * 'NOT_LEADER' (and `leaderHint` when it knows the leader) or 'NO_LEADER'; a node too busy to
 * take the request (nothing done) with 'OVERLOADED'; the runtime's own codes pass through
 * unchanged. Anything else is treated as a bug and not retried.
 */
import type { NodeId } from '../raft/types.ts';
import type { KvBlobTable } from '../store/kv-backend.ts';
import type { KvRecord } from '../store/kv-command.ts';
import type { KvApplyResult, KvEvent, KvRangeOptions, KvRangePage } from '../store/kv-state-machine.ts';

export interface Endpoint {
  readonly id: NodeId;
  /** False while the node is known to be down: the client does not try it. */
  isUp(): boolean;
  /** The leader the node follows (itself if leading), 0 if unknown. May be stale. */
  leaderHint(): NodeId;
  /** Replicates an encoded KvCommand; resolves with its result once applied on that node. */
  propose(command: Uint8Array): Promise<KvApplyResult>;
  /** ReadIndex: resolves with the read index once the node's state reflects it. */
  readBarrier(): Promise<number>;
  /** As readBarrier, answered from the leader's lease when it holds. */
  leaseReadBarrier(): Promise<number>;
  /** Reads of the node's applied state, without any barrier. */
  get(key: Uint8Array): Promise<KvRecord | null>;
  range(start: Uint8Array, end: Uint8Array | null, options: KvRangeOptions): Promise<KvRangePage>;
  events(fromRevision: number, limit: number, fromSub: number): Promise<KvEvent[]>;
  /** A record of the chunk or parameter table of the node's applied state, null if absent. */
  readTable(table: KvBlobTable, key: Uint8Array): Promise<Uint8Array | null>;
  /**
   * Resolves with the node's applied index once it exceeds `after`, or after `timeoutMs` (or
   * at once if the node is down) with whatever it is then. A remote endpoint may long-poll.
   */
  waitApplied(after: number, timeoutMs: number): Promise<number>;
}
