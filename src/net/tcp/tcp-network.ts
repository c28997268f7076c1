/**
 * The Network of one node over TCP: a listener that accepts authenticated connections from
 * peers, and per-peer outbound lanes (control, bulk) dialled lazily, each with a bounded queue.
 *
 *   const net = await TcpNetwork.create({ nodeId: 1, clusterId, listen: { host, port: 0 }, peers, secret });
 *   await Node.open({ id: 1, transport: net, ... });
 *
 * send() never throws for network conditions and never blocks: a message is encoded at once
 * (so later mutation of it cannot matter) and queued; unreachable or slow peers cost bounded
 * memory, and what does not fit is dropped and counted, as Raft expects of an unreliable network.
 */
import type net from 'node:net';
import { TesseraError } from '../../errors.ts';
import type { Transport } from '../../node/ports.ts';
import type { Message, NodeId } from '../../raft/types.ts';
import { checkClusterId } from '../../util/cluster-id.ts';
import type { Network, Receiver } from '../network.ts';
import { MIN_SECRET_BYTES } from './handshake.ts';
import { InboundConnection } from './inbound.ts';
import { laneOf, type Lane } from './lanes.ts';
import { LogOnce, defaultTcpLog, type TcpLog } from './log-once.ts';
import { encodeMessageFrame } from './message-codec.ts';
import { PeerLink, type LinkStats } from './peer-link.ts';
import { DEFAULT_TCP_TUNING, MAX_LOG_KEYS, type TcpTuning } from './tcp-tuning.ts';
import { OpenSockets } from './open-sockets.ts';
import { checkTlsOptions, createServer, inboundTlsFailure, type PeerAddress, type TcpTlsOptions } from './tls.ts';
import { TlsHandshakes } from './tls-handshakes.ts';
import { listenOn } from './listen.ts';

export interface TcpNetworkOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** Where to listen; port 0 picks a free port (see `port`). */
  readonly listen: PeerAddress;
  /**
   * Where each peer listens. May include this node (ignored); only these ids may connect. Read at
   * use, not copied: a map updated in place (peers bound to port 0 after this network, a peer
   * that moved) takes effect at the next dial or handshake.
   */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** The cluster secret, at least MIN_SECRET_BYTES. */
  readonly secret: Uint8Array;
  readonly tls?: TcpTlsOptions;
  /** Connection trouble, once per (peer, reason). Default: console.warn. */
  readonly log?: TcpLog;
  readonly tuning?: Partial<TcpTuning>;
}

export interface TcpNetworkStats {
  /** Messages handed to send(). */
  readonly sent: number;
  /** Messages received from peers and handed to the registered receiver. */
  readonly delivered: number;
  /** Received while no receiver was registered. */
  readonly droppedUnregistered: number;
  /** Not sendable: to an unknown node or ourselves, too large, or a local-only type. */
  readonly droppedUnsendable: number;
  /** Dropped by full queues (summed over links). */
  readonly droppedQueueFull: number;
  /** Inbound connections refused before their handshake (too many pending, or closing). */
  readonly refusedConnections: number;
  readonly authenticatedConnections: number;
  /** Sockets not yet closed (inbound, outbound, and raw sockets under TLS). */
  readonly openSockets: number;
  readonly links: readonly LinkStats[];
}

export class TcpNetwork implements Network {
  private readonly links = new Map<string, PeerLink>();
  private readonly inbound = new Map<string, InboundConnection>();
  private readonly pending = new Set<InboundConnection>();
  /** Under TLS: accepted connections whose TLS handshake is not done (counted with `pending`). */
  private readonly tlsHandshakes = new TlsHandshakes();
  private readonly sockets = new OpenSockets(() => this.closing !== null);
  private receiver: Receiver | null = null;
  private closing: Promise<void> | null = null;
  private readonly log: LogOnce;
  private boundPort = 0;
  private readonly counters = { sent: 0, delivered: 0, droppedUnregistered: 0, droppedUnsendable: 0, refused: 0, authenticated: 0 };

  private constructor(
    private readonly o: TcpNetworkOptions,
    private readonly tuning: TcpTuning,
    private readonly secret: Uint8Array,
    private readonly server: net.Server,
  ) {
    this.log = new LogOnce(o.log ?? defaultTcpLog, MAX_LOG_KEYS);
  }

  /** Validates the options, starts listening, and resolves once the listener is bound. */
  static async create(options: TcpNetworkOptions): Promise<TcpNetwork> {
    checkOptions(options);
    const tuning: TcpTuning = { ...DEFAULT_TCP_TUNING, ...options.tuning };
    let network: TcpNetwork | null = null;
    const server = createServer(
      options.tls,
      tuning.handshakeTimeoutMs,
      (raw) => network?.acceptRaw(raw),
      (socket) => network?.accept(socket),
      (error, socket) => network?.tlsFailed(error, socket),
    );
    network = new TcpNetwork(options, tuning, new Uint8Array(options.secret), server);
    network.boundPort = await listenOn(server, options.listen);
    // After listening, a server error (rare: EMFILE on accept) is logged, never thrown.
    server.on('error', (e) => network?.log.report('listener', new TesseraError('CLOSED', `listener error: ${e.message}`, { cause: e })));
    return network;
  }

  get nodeId(): NodeId {
    return this.o.nodeId;
  }

  /** The bound port (the actual one when listening on port 0); still known after close(). */
  get port(): number {
    return this.boundPort;
  }

  transportFor(id: NodeId): Transport {
    if (id !== this.o.nodeId) throw new TesseraError('INVALID_ARGUMENT', `this network belongs to node ${this.o.nodeId}, not ${id}`);
    return {
      send: (m: Message) => {
        if (m.from !== id) throw new RangeError(`transport of node ${id} asked to send a message from ${m.from}`);
        this.send(m);
      },
    };
  }

  register(id: NodeId, receive: Receiver): void {
    if (id !== this.o.nodeId) throw new TesseraError('INVALID_ARGUMENT', `this network belongs to node ${this.o.nodeId}, not ${id}`);
    this.receiver = receive;
  }

  unregister(id: NodeId): void {
    if (id === this.o.nodeId) this.receiver = null;
  }

  stats(): TcpNetworkStats {
    const links = [...this.links.values()].map((l) => l.stats());
    const c = this.counters;
    return {
      sent: c.sent,
      delivered: c.delivered,
      droppedUnregistered: c.droppedUnregistered,
      droppedUnsendable: c.droppedUnsendable,
      droppedQueueFull: links.reduce((n, l) => n + l.droppedMessages, 0),
      refusedConnections: c.refused,
      authenticatedConnections: c.authenticated,
      openSockets: this.sockets.size,
      links,
    };
  }

  /** Stops listening and closes every connection; resolves once all sockets and the listener are closed. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.receiver = null;
      const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const link of this.links.values()) link.close();
      for (const c of [...this.pending, ...this.inbound.values()]) c.close();
      await Promise.all([listenerClosed, this.sockets.destroyAll()]);
    })();
    return this.closing;
  }

  private send(m: Message): void {
    this.counters.sent++;
    if (this.closing !== null) {
      this.counters.droppedUnsendable++;
      return;
    }
    if (!this.o.peers.has(m.to) || m.to === this.o.nodeId) {
      this.counters.droppedUnsendable++;
      this.log.report(`node ${m.to}`, new TesseraError('INVALID_ARGUMENT', `no address for node ${m.to}: message dropped`));
      return;
    }
    let frame: Uint8Array;
    try {
      frame = encodeMessageFrame(m);
    } catch (e) {
      this.counters.droppedUnsendable++;
      this.log.report(`node ${m.to}`, e instanceof TesseraError ? e : new TesseraError('INVARIANT', String(e), { cause: e }));
      return;
    }
    this.link(m.to, laneOf(m)).send(frame);
  }

  private link(peer: NodeId, lane: Lane): PeerLink {
    const key = `${peer}/${lane}`;
    let link = this.links.get(key);
    if (link === undefined) {
      link = new PeerLink({
        self: this.o.nodeId,
        peer,
        lane,
        address: () => this.o.peers.get(peer),
        clusterId: this.o.clusterId,
        secret: this.secret,
        tls: this.o.tls,
        tuning: this.tuning,
        log: this.log,
        track: (s) => this.track(s),
      });
      this.links.set(key, link);
    }
    return link;
  }

  /**
   * Takes over a peer's connection accepted elsewhere (a port shared with clients), with the
   * bytes already read from it: it then goes through the same handshake as one accepted here.
   */
  adopt(socket: net.Socket, head: Uint8Array): void {
    this.accept(socket, head);
  }

  /**
   * Every TCP socket this listener accepts, first. Under TLS it is counted against the bound on
   * handshakes in progress here, before any TLS work is spent on it; in clear text accept()
   * follows at once and judges it.
   */
  private acceptRaw(raw: net.Socket): void {
    this.track(raw);
    if (this.o.tls === undefined) return;
    if (this.closing !== null || this.pending.size + this.tlsHandshakes.size >= this.tuning.maxPendingHandshakes) return this.refuse(raw);
    this.tlsHandshakes.begin(raw);
  }

  private accept(socket: net.Socket, head?: Uint8Array): void {
    // A TLS socket of this listener was counted at its raw accept (adopted sockets never were).
    const countedRaw = this.o.tls !== undefined && head === undefined;
    if (countedRaw) this.tlsHandshakes.finish(socket);
    if (this.closing !== null || (!countedRaw && this.pending.size >= this.tuning.maxPendingHandshakes)) return this.refuse(socket);
    this.track(socket);
    const connection = new InboundConnection(socket, {
      self: this.o.nodeId,
      clusterId: this.o.clusterId,
      secret: this.secret,
      isPeer: (id) => id !== this.o.nodeId && this.o.peers.has(id),
      handshakeTimeoutMs: this.tuning.handshakeTimeoutMs,
      log: this.log,
      authenticated: (c) => this.authenticated(c),
      closed: (c) => this.inboundClosed(c),
      deliver: (m) => this.deliver(m),
    });
    this.pending.add(connection);
    if (head !== undefined) connection.replay(head);
  }

  private refuse(socket: net.Socket): void {
    this.counters.refused++;
    this.log.report(socket.remoteAddress ?? 'unknown address', new TesseraError('CLOSED', `refused a connection: ${this.closing ? 'closing' : 'too many handshakes in progress'}`));
    socket.destroy();
  }

  /** A TLS handshake of an inbound connection failed (createServer destroys the socket next). */
  private tlsFailed(error: Error, socket: net.Socket): void {
    const failure = inboundTlsFailure(error, socket);
    this.log.report(failure.remote, failure.error);
  }

  private authenticated(c: InboundConnection): void {
    this.pending.delete(c);
    this.counters.authenticated++;
    const key = `${c.peer}/${c.lane}`;
    // A peer redials only after losing its connection; an older one still here is half-open.
    const older = this.inbound.get(key);
    this.inbound.set(key, c);
    older?.close();
  }

  private inboundClosed(c: InboundConnection): void {
    this.pending.delete(c);
    const key = `${c.peer}/${c.lane}`;
    if (this.inbound.get(key) === c) this.inbound.delete(key);
  }

  private deliver(m: Message): void {
    const receive = this.receiver;
    if (receive === null) {
      this.counters.droppedUnregistered++;
      return;
    }
    this.counters.delivered++;
    try {
      receive(m);
    } catch (e) {
      // Not the peer's fault: keep the connection, report the receiver's failure.
      this.log.report('receiver', e instanceof TesseraError ? e : new TesseraError('INVARIANT', `receiver threw: ${String(e)}`, { cause: e }));
    }
  }

  private track(socket: net.Socket): void {
    this.sockets.track(socket);
  }
}

function checkOptions(o: TcpNetworkOptions): void {
  const bad = (what: string) => new TesseraError('INVALID_ARGUMENT', what);
  if (!Number.isSafeInteger(o.nodeId) || o.nodeId < 1) throw bad(`node id must be a positive integer, got ${o.nodeId}`);
  checkClusterId(o.clusterId);
  if (o.secret.byteLength < MIN_SECRET_BYTES) throw bad(`the cluster secret must have at least ${MIN_SECRET_BYTES} bytes`);
  for (const [id, a] of o.peers) {
    if (!Number.isSafeInteger(id) || id < 1) throw bad(`bad peer id ${id}`);
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw bad(`bad port ${a.port} for node ${id}`);
  }
  if (!Number.isInteger(o.listen.port) || o.listen.port < 0 || o.listen.port > 65535) throw bad(`bad listen port ${o.listen.port}`);
  for (const [key, value] of Object.entries(o.tuning ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) throw bad(`tuning.${key} must be a positive number, got ${String(value)}`);
  }
  if (o.tls !== undefined) checkTlsOptions(o.tls);
}
