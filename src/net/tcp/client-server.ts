/**
 * A node's public port, shared by clients and peers. Every accepted connection is held until its
 * first frame, which says who is calling: a client preamble (client-protocol.ts) makes it a
 * ClientConnection; anything else is a peer's handshake hello and goes, bytes and all, to the
 * node's TcpNetwork (TcpNetwork.adopt), which judges it exactly as if it had accepted it itself.
 *
 *   const server = await ClientServer.create({ nodeId, clusterId, secret, listen, service, adoptPeer });
 *
 * So one address per node serves both (`--listen` is what peers dial and what clients are
 * given), and the secret guards both: a client must pass the same HMAC handshake as a peer.
 *
 * With `tls`, the whole port speaks TLS: every connection, peer or client, first completes a
 * mutual TLS handshake (a certificate from the cluster's CA is required of clients as of peers:
 * TLS ends before the first frame could say which is calling), and only then is its first frame
 * read, inside TLS. Nothing on the port is read in the clear.
 *
 * Bounds: connections before their first frame (MAX_PENDING_HANDSHAKES, TLS handshakes in
 * progress included, each with the handshake deadline counted from accept and a first frame of
 * at most HANDSHAKE_MAX_FRAME_BYTES), client connections (MAX_CLIENT_CONNECTIONS), and per
 * connection what ClientConnection bounds.
 */
import type net from 'node:net';
import { TesseraError } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import { checkClusterId } from '../../util/cluster-id.ts';
import { decodePreamble } from './client-codec.ts';
import { ClientConnection } from './client-connection.ts';
import { DEFAULT_CLIENT_LIMITS, type ClientLimits } from './client-limits.ts';
import { CLIENT_PRINCIPAL_ID, CLIENT_PROTOCOL_VERSION, type ClientService } from './client-protocol.ts';
import { FrameDecoder } from './frame.ts';
import { HANDSHAKE_MAX_FRAME_BYTES } from './handshake-messages.ts';
import { MIN_SECRET_BYTES } from './handshake.ts';
import { LogOnce, defaultTcpLog, type TcpLog } from './log-once.ts';
import { OpenSockets } from './open-sockets.ts';
import { MAX_LOG_KEYS } from './tcp-tuning.ts';
import { checkTlsOptions, createServer, inboundTlsFailure, looksLikeTlsHello, type PeerAddress, type TcpTlsOptions } from './tls.ts';
import { listenOn } from './listen.ts';
import { TlsHandshakes } from './tls-handshakes.ts';

export interface ClientServerOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly secret: Uint8Array;
  /** Where to listen; port 0 picks a free port (see `port`). */
  readonly listen: PeerAddress;
  readonly service: ClientService;
  /** Hands a peer's connection (and the bytes read from it) to the node's TcpNetwork; null refuses them. */
  readonly adoptPeer: ((socket: net.Socket, head: Uint8Array) => void) | null;
  /** Connection trouble, once per (remote, reason). Default: console.warn. */
  readonly log?: TcpLog;
  readonly limits?: Partial<ClientLimits>;
  /** Mutual TLS on the whole port (see above); the node's TcpNetwork must use the same. */
  readonly tls?: TcpTlsOptions;
}

export interface ClientServerStats {
  readonly clientConnections: number;
  /** Accepted, first frame not yet read (under TLS: TLS handshakes in progress included). */
  readonly pendingConnections: number;
  readonly forwardedConnections: number;
  /** Refused before their first frame or at their preamble (limits, closing, wrong cluster or version). */
  readonly refusedConnections: number;
  readonly requests: number;
  /** Requests refused because their connection had too many in flight. */
  readonly refusedRequests: number;
}

interface Pending {
  readonly socket: net.Socket;
  readonly timer: NodeJS.Timeout;
}

export class ClientServer {
  private readonly pending = new Set<Pending>();
  /** Under TLS: connections accepted whose TLS handshake is not done (counted with `pending`). */
  private readonly tlsHandshakes = new TlsHandshakes();
  private readonly clients = new Set<ClientConnection>();
  private readonly sockets = new OpenSockets(() => this.closing !== null);
  private readonly log: LogOnce;
  private readonly limits: ClientLimits;
  private listenerClosed: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private boundPort = 0;
  private readonly counters = { forwarded: 0, refused: 0, requests: 0, refusedRequests: 0 };

  private constructor(
    private readonly o: ClientServerOptions,
    private readonly server: net.Server,
  ) {
    this.log = new LogOnce(o.log ?? defaultTcpLog, MAX_LOG_KEYS);
    this.limits = { ...DEFAULT_CLIENT_LIMITS, ...o.limits };
  }

  /** Validates the options, starts listening, and resolves once the listener is bound. */
  static async create(options: ClientServerOptions): Promise<ClientServer> {
    checkOptions(options);
    let cs: ClientServer | null = null;
    const server = createServer(
      options.tls,
      options.limits?.handshakeTimeoutMs ?? DEFAULT_CLIENT_LIMITS.handshakeTimeoutMs,
      (raw) => cs?.acceptRaw(raw),
      (socket) => cs?.accept(socket),
      (error, socket) => {
        const failure = inboundTlsFailure(error, socket);
        cs?.log.report(failure.remote, failure.error);
      },
    );
    cs = new ClientServer(options, server);
    cs.boundPort = await listenOn(server, options.listen);
    server.on('error', (e) => cs?.log.report('listener', new TesseraError('CLOSED', `listener error: ${e.message}`, { cause: e })));
    return cs;
  }

  /** The bound port (the actual one when listening on port 0). */
  get port(): number {
    return this.boundPort;
  }

  stats(): ClientServerStats {
    let requests = this.counters.requests;
    let refusedRequests = this.counters.refusedRequests;
    for (const c of this.clients) {
      const s = c.stats();
      requests += s.requests;
      refusedRequests += s.refused;
    }
    return {
      clientConnections: this.clients.size,
      pendingConnections: this.pending.size + this.tlsHandshakes.size,
      forwardedConnections: this.counters.forwarded,
      refusedConnections: this.counters.refused,
      requests,
      refusedRequests,
    };
  }

  /** Stops accepting connections; those already open stay. Idempotent. */
  stopAccepting(): void {
    this.listenerClosed ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Closes every client connection (and those still before their first frame); peers' stay. */
  closeClients(): void {
    for (const p of this.pending) this.dropPending(p);
    for (const c of this.clients) c.close();
  }

  /** Stops listening and closes every connection, peers' included; resolves once all are closed. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopAccepting();
      this.closeClients();
      await Promise.all([this.listenerClosed, this.sockets.destroyAll()]);
    })();
    return this.closing;
  }

  /**
   * Every accepted TCP socket, first. In clear text accept() follows at once and judges it;
   * under TLS this is where it is counted against the bound, before any TLS work is spent on it.
   */
  private acceptRaw(raw: net.Socket): void {
    this.track(raw);
    if (this.o.tls === undefined) return;
    const full = this.pending.size + this.tlsHandshakes.size >= this.limits.maxPendingConnections;
    if (this.listenerClosed !== null || full) return this.refuseEarly(raw, remoteName(raw));
    this.tlsHandshakes.begin(raw);
  }

  /** A connection ready to read its first frame: at once in clear text, after its TLS handshake under TLS. */
  private accept(socket: net.Socket): void {
    this.track(socket);
    // Under TLS the deadline runs from the TCP accept, so TLS and the first frame share it.
    const started = this.o.tls === undefined ? performance.now() : this.tlsHandshakes.finish(socket);
    // Read now: a destroyed socket forgets its address, and most log lines follow a destroy.
    const remote = remoteName(socket);
    // Under TLS the bound was applied at the raw accept (acceptRaw), where this connection already counts.
    const full = this.o.tls === undefined && this.pending.size >= this.limits.maxPendingConnections;
    if (this.listenerClosed !== null || full) return this.refuseEarly(socket, remote);
    const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    const raw: Uint8Array[] = [];
    const entry: Pending = {
      socket,
      timer: setTimeout(
        () => {
          this.dropPending(entry);
          this.log.report(remote, new TesseraError('TIMEOUT', `no first frame within ${this.limits.handshakeTimeoutMs} ms`));
        },
        Math.max(0, this.limits.handshakeTimeoutMs - (performance.now() - started)),
      ),
    };
    this.pending.add(entry);
    const onData = (chunk: Buffer): void => {
      if (raw.length === 0 && this.o.tls === undefined && looksLikeTlsHello(chunk)) {
        this.dropPending(entry);
        this.log.report(remote, new TesseraError('PROTOCOL_ERROR', 'a TLS client called this port, which does not speak TLS (is this node started without --tls-cert?)'));
        return;
      }
      raw.push(chunk);
      let payload: Uint8Array | null;
      try {
        decoder.push(chunk);
        payload = decoder.next();
      } catch (e) {
        this.dropPending(entry);
        this.log.report(remote, e instanceof TesseraError ? e : new TesseraError('PROTOCOL_ERROR', String(e)));
        return;
      }
      if (payload === null) return;
      // Paused before the hand-over, so nothing is emitted while nobody listens.
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      clearTimeout(entry.timer);
      this.pending.delete(entry);
      this.route(socket, payload, raw, decoder.takeRest(), started);
    };
    const onClose = (): void => {
      clearTimeout(entry.timer);
      this.pending.delete(entry);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  }

  /** Decides, from the first frame, whose connection this is. */
  private route(socket: net.Socket, first: Uint8Array, raw: readonly Uint8Array[], rest: Uint8Array, started: number): void {
    let preamble: ReturnType<typeof decodePreamble>;
    try {
      preamble = decodePreamble(first);
    } catch (e) {
      return this.refuse(socket, e instanceof TesseraError ? e : new TesseraError('PROTOCOL_ERROR', String(e)));
    }
    if (preamble === null) {
      if (this.o.adoptPeer === null) return this.refuse(socket, new TesseraError('PROTOCOL_ERROR', 'not a client, and this port takes no peers'));
      this.counters.forwarded++;
      this.o.adoptPeer(socket, Buffer.concat(raw));
      return;
    }
    if (preamble.version !== CLIENT_PROTOCOL_VERSION) {
      return this.refuse(socket, new TesseraError('PROTOCOL_ERROR', `client protocol version ${preamble.version} is not supported (this node speaks ${CLIENT_PROTOCOL_VERSION})`));
    }
    if (preamble.clusterId !== this.o.clusterId) {
      return this.refuse(socket, new TesseraError('AUTH_FAILED', `a client of cluster ${JSON.stringify(preamble.clusterId.slice(0, 64))} called this node of ${JSON.stringify(this.o.clusterId)}`));
    }
    if (this.clients.size >= this.limits.maxClientConnections) {
      return this.refuse(socket, new TesseraError('CLOSED', `refused a client: ${this.limits.maxClientConnections} client connections are open`));
    }
    const connection = new ClientConnection(socket, rest, {
      self: this.o.nodeId,
      clusterId: this.o.clusterId,
      secret: this.o.secret,
      service: this.o.service,
      limits: this.limits,
      handshakeMs: this.limits.handshakeTimeoutMs - (performance.now() - started),
      log: this.log,
      closed: (c) => {
        const s = c.stats();
        this.counters.requests += s.requests;
        this.counters.refusedRequests += s.refused;
        this.clients.delete(c);
      },
    });
    this.clients.add(connection);
  }

  /** Refused before reading anything: closing, or too many connections before their first frame. */
  private refuseEarly(socket: net.Socket, remote: string): void {
    this.counters.refused++;
    this.log.report(remote, new TesseraError('CLOSED', `refused a connection: ${this.listenerClosed ? 'closing' : 'too many connections before their first frame'}`));
    socket.destroy();
  }

  private refuse(socket: net.Socket, error: TesseraError): void {
    this.counters.refused++;
    this.log.report(remoteName(socket), error);
    socket.destroy();
  }

  private dropPending(p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(p);
    p.socket.destroy();
  }

  private track(socket: net.Socket): void {
    this.sockets.track(socket);
  }
}

function remoteName(socket: net.Socket): string {
  return socket.remoteAddress ?? 'unknown address';
}

function checkOptions(o: ClientServerOptions): void {
  const bad = (what: string) => new TesseraError('INVALID_ARGUMENT', what);
  if (!Number.isSafeInteger(o.nodeId) || o.nodeId < 1 || o.nodeId >= CLIENT_PRINCIPAL_ID) throw bad(`node id must be an integer in 1..${CLIENT_PRINCIPAL_ID - 1}, got ${o.nodeId}`);
  checkClusterId(o.clusterId);
  if (o.secret.byteLength < MIN_SECRET_BYTES) throw bad(`the cluster secret must have at least ${MIN_SECRET_BYTES} bytes`);
  if (!Number.isInteger(o.listen.port) || o.listen.port < 0 || o.listen.port > 65535) throw bad(`bad listen port ${o.listen.port}`);
  for (const [key, value] of Object.entries(o.limits ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) throw bad(`limits.${key} must be a positive number, got ${String(value)}`);
  }
  if (o.tls !== undefined) checkTlsOptions(o.tls);
}
