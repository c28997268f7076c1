/**
 * One node as a network server (`tessera serve`): a durable Node on a TcpNetwork, and its
 * clients, on one public address.
 *
 *   const server = await Server.start({ id: 1, dir, listen: { host, port }, peers, secret });
 *   ...; await server.close();
 *
 * One port for peers and clients: the public listener (ClientServer) reads each connection's
 * first frame; a client preamble makes it a client connection, and anything else (a peer's
 * handshake hello) is adopted by the TcpNetwork (its own listener, on a loopback port, is not
 * given to anyone). Both kinds authenticate with the cluster secret
 * by the same HMAC handshake, on distinct channels. So the address a node's peers dial is also
 * the one its clients are given.
 *
 * With `tls`, the public port speaks only TLS (mutual: clients, like peers, present a
 * certificate from the CA), the TcpNetwork dials its peers over TLS, and its internal loopback
 * listener takes only TLS too: nothing of the node accepts clear text.
 *
 * close() is the graceful shutdown: stop accepting, close the client connections, close the
 * node (pending requests fail with CLOSED, stores flushed and closed), then the network.
 */
import { TesseraError } from '../errors.ts';
import { formatAddress } from '../net/tcp/address.ts';
import type { ClientLimits } from '../net/tcp/client-limits.ts';
import { CLIENT_PRINCIPAL_ID, DEFAULT_CLUSTER_ID, type NodeStatusReport } from '../net/tcp/client-protocol.ts';
import { ClientServer } from '../net/tcp/client-server.ts';
import type { TcpLogEvent } from '../net/tcp/log-once.ts';
import { TcpNetwork } from '../net/tcp/tcp-network.ts';
import type { TcpTuning } from '../net/tcp/tcp-tuning.ts';
import { checkTlsOptions, type PeerAddress, type TcpTlsOptions } from '../net/tcp/tls.ts';
import type { NodeId } from '../raft/types.ts';
import { Node } from './node.ts';
import { nodeService } from './node-service.ts';
import { silentLogger, type Logger } from './server-log.ts';
import type { NodeTuning } from './tuning.ts';

/** Where the TcpNetwork listens behind the public port: loopback only, any free port. */
export const INTERNAL_PEER_HOST = '127.0.0.1';
/** Listen hosts that name no reachable address. */
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

export interface ServerOptions extends NodeTuning {
  readonly id: NodeId;
  readonly dir: string;
  /** Default DEFAULT_CLUSTER_ID. Must match the one `dir` was created with. */
  readonly clusterId?: string;
  /** The cluster secret, at least MIN_SECRET_BYTES. */
  readonly secret: Uint8Array;
  /** The public address, for peers and clients; port 0 picks a free port (see `address`). */
  readonly listen: PeerAddress;
  /**
   * What this node tells clients its address is. Default: `listen` with the bound port, or, if
   * that is a wildcard (0.0.0.0, ::), this node's own entry in `peers` (if listed), else none.
   */
  readonly advertise?: PeerAddress;
  /**
   * Where each other node listens (this node may be listed; it is ignored). Read at use, like
   * TcpNetwork's: a map filled in after start (peers bound to port 0) takes effect at once.
   */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** The voters; default: this node and every id in `peers` at start. */
  readonly voters?: readonly NodeId[];
  readonly log?: Logger;
  readonly tcpTuning?: Partial<TcpTuning>;
  readonly clientLimits?: Partial<ClientLimits>;
  /** Mutual TLS for everything the node sends and accepts (its certificate serves as server and as client). */
  readonly tls?: TcpTlsOptions;
  /** The node stopped on its own (storage failure, corruption); it has been logged. */
  readonly onFatal?: (error: Error) => void;
}

export class Server {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly id: NodeId,
    readonly clusterId: string,
    /** The address clients are told to reach this node at; null if unknown (see ServerOptions.advertise). */
    readonly address: PeerAddress | null,
    readonly node: Node,
    private readonly network: TcpNetwork,
    private readonly front: ClientServer,
    private readonly log: Logger,
  ) {}

  /** Opens the node's stores, binds the public port, and starts the node. */
  static async start(o: ServerOptions): Promise<Server> {
    const log = o.log ?? silentLogger;
    const clusterId = o.clusterId ?? DEFAULT_CLUSTER_ID;
    if (!Number.isSafeInteger(o.id) || o.id < 1 || o.id >= CLIENT_PRINCIPAL_ID) {
      throw new TesseraError('INVALID_ARGUMENT', `node id must be an integer in 1..${CLIENT_PRINCIPAL_ID - 1}, got ${o.id}`);
    }
    const voters = [...new Set(o.voters ?? [o.id, ...o.peers.keys()])].sort((a, b) => a - b);
    if (!voters.includes(o.id)) throw new TesseraError('INVALID_ARGUMENT', `node ${o.id} is not among the voters ${voters.join(', ')}`);
    if (o.tls !== undefined) checkTlsOptions(o.tls);
    log('info', 'starting', { id: o.id, clusterId, listen: formatAddress(o.listen), voters, dir: o.dir, tls: o.tls !== undefined });

    let node: Node | null = null;
    let advertised: PeerAddress | null = null;
    const members = (): NodeStatusReport['members'] => voters.map((id) => ({ id, address: id === o.id ? advertised : (o.peers.get(id) ?? null) }));
    const network = await TcpNetwork.create({
      nodeId: o.id,
      clusterId,
      listen: { host: INTERNAL_PEER_HOST, port: 0 },
      peers: o.peers,
      secret: o.secret,
      log: (e) => log('warn', 'peer connection', tcpFields(e)),
      ...(o.tcpTuning && { tuning: o.tcpTuning }),
      ...(o.tls && { tls: o.tls }),
    });
    let front: ClientServer;
    try {
      front = await ClientServer.create({
        nodeId: o.id,
        clusterId,
        secret: o.secret,
        listen: o.listen,
        service: nodeService({ id: o.id, clusterId, current: () => node, members }),
        adoptPeer: (socket, head) => network.adopt(socket, head),
        log: (e) => log('warn', 'client connection', tcpFields(e)),
        ...(o.clientLimits && { limits: o.clientLimits }),
        ...(o.tls && { tls: o.tls }),
      });
    } catch (e) {
      await network.close();
      throw listenError(o.listen, e);
    }
    advertised = o.advertise ?? (WILDCARD_HOSTS.has(o.listen.host) ? (o.peers.get(o.id) ?? null) : { host: o.listen.host, port: front.port });
    try {
      node = await Node.open({
        ...o,
        clusterId,
        peers: voters,
        transport: network,
        onFatal: (e) => {
          log('error', 'node failed', { error: e });
          o.onFatal?.(e);
        },
        observer: {
          roleChanged: (_id, soft, term) => log('info', 'role changed', { role: soft.role, leader: soft.leader, term }),
        },
      });
    } catch (e) {
      await Promise.allSettled([front.close(), network.close()]);
      throw e;
    }
    log('info', 'started', { id: o.id, address: advertised && formatAddress(advertised), port: front.port, peerPort: network.port });
    return new Server(o.id, clusterId, advertised, node, network, front, log);
  }

  /** The bound public port. */
  get port(): number {
    return this.front.port;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  stats() {
    return { clients: this.front.stats(), network: this.network.stats() };
  }

  /**
   * Graceful shutdown: stop accepting, close client connections, close the node, close the
   * network. Idempotent; rejects with the first failure (after finishing every step).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.log('info', 'stopping', { id: this.id });
      this.front.stopAccepting();
      this.front.closeClients();
      const results = await Promise.allSettled([this.node.close()]);
      results.push(...(await Promise.allSettled([this.network.close(), this.front.close()])));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) {
        this.log('error', 'stopped with an error', { id: this.id, error: failed.reason });
        throw failed.reason;
      }
      this.log('info', 'stopped', { id: this.id });
    })();
    return this.closing;
  }
}

function tcpFields(e: TcpLogEvent): Record<string, unknown> {
  return { remote: e.peer, code: e.code, message: e.message };
}

function listenError(at: PeerAddress, e: unknown): Error {
  if (e instanceof TesseraError) return e;
  const code = (e as { code?: unknown }).code;
  const why = e instanceof Error ? e.message : String(e);
  return new TesseraError('INVALID_ARGUMENT', `cannot listen on ${formatAddress(at)}${code === 'EADDRINUSE' ? ' (the port is in use)' : ''}: ${why}`, { cause: e });
}
