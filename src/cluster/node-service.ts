/**
 * What a server offers its remote clients (the ClientService of the client protocol) over the
 * Node it runs: the Endpoint calls through a LocalEndpoint, so a node that is not (or no
 * longer) open answers CLOSED exactly as the in-process client would see it, and its status.
 */
import type { ClientService, NodeStatusReport } from '../net/tcp/client-protocol.ts';
import { TesseraError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import { LocalEndpoint } from './local-endpoint.ts';
import type { Node } from './node.ts';

export interface NodeServiceOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  /** The node, or null while it is not open (before start, after close). */
  readonly current: () => Node | null;
  readonly members: () => NodeStatusReport['members'];
}

export function nodeService(o: NodeServiceOptions): ClientService {
  const ep = new LocalEndpoint(o.id, o.current);
  return {
    leaderHint: () => ep.leaderHint(),
    propose: (command) => ep.propose(command),
    readBarrier: () => ep.readBarrier(),
    leaseReadBarrier: () => ep.leaseReadBarrier(),
    get: (key) => ep.get(key),
    range: (start, end, options) => ep.range(start, end, options),
    events: (fromRevision, limit, fromSub) => ep.events(fromRevision, limit, fromSub),
    readTable: (table, key) => ep.readTable(table, key),
    waitApplied: (after, timeoutMs) => ep.waitApplied(after, timeoutMs),
    status: async () => {
      const node = o.current();
      if (!node?.isUp) throw new TesseraError('CLOSED', `node ${o.id} is down`);
      const s = node.status();
      return {
        id: o.id,
        clusterId: o.clusterId,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: s.applied,
        lastIndex: s.lastIndex,
        members: o.members(),
        progress: [...s.progress].map(([id, p]) => ({ id, match: p.match, next: p.next, state: p.state })),
      };
    },
  };
}
