/**
 * ReadIndex bookkeeping (Raft thesis §6.4): a read request records the commit index at the
 * time it arrived; it is safe to serve once a quorum has answered a heartbeat carrying its
 * context, which proves no newer leader existed when the read arrived.
 */
import type { NodeId } from './types.ts';

export interface ReadRequest {
  readonly context: string;
  readonly index: number;
  /** Who asked: this node (served locally) or a follower that forwarded it. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  add(index: number, context: string, from: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { context, index, from, acks: new Set() });
    this.queue.push(context);
  }

  /** Records a heartbeat acknowledgement; returns the acks of that context, or null if unknown. */
  recvAck(from: NodeId, context: string): ReadonlySet<NodeId> | null {
    const r = this.pending.get(context);
    if (!r) return null;
    r.acks.add(from);
    return r.acks;
  }

  /**
   * Releases every request queued up to and including `context`: a quorum that confirmed a
   * later heartbeat also confirms the earlier ones.
   */
  advance(context: string): ReadRequest[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1).map((c) => this.pending.get(c)!);
    for (const c of this.queue.slice(0, at + 1)) this.pending.delete(c);
    this.queue = this.queue.slice(at + 1);
    return done;
  }

  /** Context of the newest pending request, carried by heartbeats. */
  lastPendingContext(): string {
    return this.queue[this.queue.length - 1] ?? '';
  }

  get size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
