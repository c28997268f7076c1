/**
 * A client Endpoint for one node id of an in-process cluster. It outlives the Node objects:
 * stopNode/startNode swap the node underneath, and the client keeps the same endpoint. A
 * stopped node answers every request with CLOSED, as an unreachable remote node would.
 */
import { TesseraError } from '../errors.ts';
import type { Endpoint } from '../client/endpoint.ts';
import type { NodeId } from '../raft/types.ts';
import type { KvBlobTable } from '../store/kv-backend.ts';
import type { KvRecord } from '../store/kv-command.ts';
import type { KvApplyResult, KvEvent, KvRangeOptions, KvRangePage } from '../store/kv-state-machine.ts';
import type { Node } from './node.ts';

export class LocalEndpoint implements Endpoint {
  constructor(
    readonly id: NodeId,
    private readonly current: () => Node | null,
  ) {}

  isUp(): boolean {
    return this.current()?.isUp ?? false;
  }

  leaderHint(): NodeId {
    return this.current()?.leaderHint() ?? 0;
  }

  propose(command: Uint8Array): Promise<KvApplyResult> {
    return this.node().then((n) => n.propose(command));
  }

  readBarrier(): Promise<number> {
    return this.node().then((n) => n.readBarrier());
  }

  leaseReadBarrier(): Promise<number> {
    return this.node().then((n) => n.leaseReadBarrier());
  }

  get(key: Uint8Array): Promise<KvRecord | null> {
    return this.node().then((n) => n.get(key));
  }

  range(start: Uint8Array, end: Uint8Array | null, options: KvRangeOptions): Promise<KvRangePage> {
    return this.node().then((n) => n.range(start, end, options));
  }

  events(fromRevision: number, limit: number, fromSub: number): Promise<KvEvent[]> {
    return this.node().then((n) => n.events(fromRevision, limit, fromSub));
  }

  readTable(table: KvBlobTable, key: Uint8Array): Promise<Uint8Array | null> {
    return this.node().then((n) => n.readTable(table, key));
  }

  waitApplied(after: number, timeoutMs: number): Promise<number> {
    const n = this.current();
    return n?.isUp ? n.waitApplied(after, timeoutMs) : Promise.resolve(0);
  }

  private node(): Promise<Node> {
    const n = this.current();
    if (n?.isUp) return Promise.resolve(n);
    return Promise.reject(new TesseraError('CLOSED', `node ${this.id} is down`));
  }
}
