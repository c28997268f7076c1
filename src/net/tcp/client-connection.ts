/**
 * One client connection on the node's side, after its preamble: the handshake (the node in the
 * dialler's role, see client-protocol.ts) under the connection's deadline, then requests, each
 * checked, run against the ClientService and answered by id, in whatever order they finish.
 *
 * Nothing a client sends can throw out of here: a malformed request ends the connection with a
 * PROTOCOL_ERROR frame (id 0) and a log line; a failed request is answered with its error. Bounds:
 * requests in flight (more are refused at once), a deadline per request, and unsent response
 * bytes (past them the node stops reading the client's requests until its socket drains).
 */
import type net from 'node:net';
import { TesseraError } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import { decodeRequest, encodeError, encodeResult, errorToWire } from './client-codec.ts';
import type { ClientLimits } from './client-limits.ts';
import {
  CLIENT_CHANNEL,
  CLIENT_PRINCIPAL_ID,
  type ClientOp,
  type ClientOpHandlers,
  type ClientRequest,
  type ClientService,
  type OpResult,
} from './client-protocol.ts';
import { FrameDecoder } from './frame.ts';
import { ClientHandshake } from './handshake.ts';
import type { LogOnce } from './log-once.ts';
import { trimEvents, trimPage } from './page-budget.ts';
import { KEEPALIVE_MS } from './tcp-tuning.ts';
import { writeCorked } from './corked-write.ts';

export interface ClientConnectionOptions {
  readonly self: NodeId;
  readonly clusterId: string;
  readonly secret: Uint8Array;
  readonly service: ClientService;
  readonly limits: ClientLimits;
  /** Milliseconds left of the connection's handshake deadline (it started at accept). */
  readonly handshakeMs: number;
  readonly log: LogOnce;
  /** Called once, when the connection is gone. */
  readonly closed: (connection: ClientConnection) => void;
}

export interface ClientConnectionStats {
  readonly requests: number;
  readonly inflight: number;
  readonly refused: number;
}

export class ClientConnection {
  private handshake: ClientHandshake | null;
  private decoder: FrameDecoder | null = null;
  private deadline: NodeJS.Timeout | null;
  private done = false;
  private inflight = 0;
  private requests = 0;
  private refused = 0;
  private paused = false;
  private readonly name: string;

  /** `head`: bytes that arrived after the preamble; the socket is paused and resumed here. */
  constructor(
    readonly socket: net.Socket,
    head: Uint8Array,
    private readonly o: ClientConnectionOptions,
  ) {
    // By address, not port: one misconfigured client host is logged once per reason, not per connection.
    this.name = `client ${socket.remoteAddress ?? 'unknown address'}`;
    this.handshake = new ClientHandshake({ clusterId: o.clusterId, self: o.self, peer: CLIENT_PRINCIPAL_ID, channel: CLIENT_CHANNEL, secret: o.secret });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    this.deadline = setTimeout(() => this.fail(new TesseraError('TIMEOUT', 'no client handshake in time')), Math.max(0, o.handshakeMs));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.drained());
    // A client that leaves mid-handshake is not worth a log line: it proved first (see
    // client-protocol.ts), so leaving cannot mean it rejected our secret; it just went away.
    socket.on('error', () => this.fail(null));
    socket.on('close', () => this.fail(null));
    socket.write(this.handshake.start());
    if (head.byteLength > 0) this.onData(head);
    socket.resume();
  }

  get authenticated(): boolean {
    return this.decoder !== null;
  }

  stats(): ClientConnectionStats {
    return { requests: this.requests, inflight: this.inflight, refused: this.refused };
  }

  /** Closes at once, without logging: requests in flight go unanswered (the client sees CLOSED). */
  close(): void {
    this.fail(null);
  }

  private onData(chunk: Uint8Array): void {
    if (this.done) return;
    try {
      if (this.handshake !== null) this.continueHandshake(this.handshake, chunk);
      else this.receiveRequests(chunk);
    } catch (e) {
      const error = asClientError(e);
      if (this.authenticated) this.goodbye(error);
      else this.fail(error);
    }
  }

  private continueHandshake(hs: ClientHandshake, chunk: Uint8Array): void {
    const step = hs.receive(chunk);
    for (const frame of step.send) this.socket.write(frame);
    if (step.done === null) return;
    this.handshake = null;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    this.decoder = new FrameDecoder(this.o.limits.maxFrameBytes);
    this.o.log.forget(this.name); // a new episode of trouble from this host gets logged again
    if (step.done.rest.byteLength > 0) this.receiveRequests(step.done.rest);
  }

  private receiveRequests(chunk: Uint8Array): void {
    const decoder = this.decoder!;
    decoder.push(chunk);
    for (let payload = decoder.next(); payload !== null && !this.done; payload = decoder.next()) {
      const req = decodeRequest(payload);
      this.requests++;
      if (this.inflight >= this.o.limits.maxInflightRequests) {
        this.refused++;
        const max = this.o.limits.maxInflightRequests;
        // Refused before the service saw it: nothing was done, so the client may retry the same bytes.
        this.send(encodeError(req.id, { code: 'OVERLOADED', message: `more than ${max} requests in flight on one connection: refused, nothing was done`, leaderHint: 0 }, this.leader()));
        continue;
      }
      this.run(req);
    }
  }

  private run<K extends ClientOp>(req: ClientRequest<K>): void {
    this.inflight++;
    let finished = false;
    const finish = (frame: () => Uint8Array) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.inflight--;
      if (!this.done) this.send(frame());
    };
    const ms = this.o.limits.requestDeadlineMs;
    const timer = setTimeout(() => finish(() => this.errorFrame(req.id, new TesseraError('TIMEOUT', `${req.op}: no answer within ${ms} ms`))), ms);
    call(this.o.service, req).then(
      (value) => finish(() => this.resultFrame(req, value)),
      (e: unknown) => finish(() => this.errorFrame(req.id, e)),
    );
  }

  private resultFrame<K extends ClientOp>(req: ClientRequest<K>, value: OpResult<K>): Uint8Array {
    try {
      return encodeResult(req.id, req.op, this.fit(req.op, value), this.leader());
    } catch (e) {
      return this.errorFrame(req.id, e); // MESSAGE_TOO_LARGE (say, a record past the frame size)
    }
  }

  /** Pages cut to the byte budget (page-budget.ts); other results as they are. */
  private fit<K extends ClientOp>(op: K, value: OpResult<K>): OpResult<K> {
    const budget = this.o.limits.maxPageBytes;
    if (op === 'range') return trimPage(value as OpResult<'range'>, budget) as OpResult<K>;
    if (op === 'events') return trimEvents(value as OpResult<'events'>, budget) as OpResult<K>;
    return value;
  }

  private errorFrame(id: number, e: unknown): Uint8Array {
    return encodeError(id, errorToWire(e), this.leader());
  }

  private leader(): NodeId {
    try {
      return this.o.service.leaderHint();
    } catch {
      return 0;
    }
  }

  private send(frame: Uint8Array): void {
    if (this.done) return;
    writeCorked(this.socket, frame);
    // Responses pile up when the client does not read: stop taking requests until they drain.
    if (!this.paused && this.socket.writableLength > this.o.limits.maxBacklogBytes) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private drained(): void {
    if (!this.paused || this.done) return;
    this.paused = false;
    this.socket.resume();
  }

  /** A protocol error after authentication: say why (id 0), then close once it is written. */
  private goodbye(error: TesseraError): void {
    if (this.done) return;
    const frame = encodeError(0, errorToWire(error), 0);
    this.fail(error, () => this.socket.end(frame));
  }

  private fail(error: TesseraError | null, closeSocket: () => void = () => this.socket.destroy()): void {
    if (this.done) return;
    this.done = true;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    this.handshake = null;
    this.decoder = null;
    if (error !== null) this.o.log.report(this.name, error);
    closeSocket();
    // A client that never closes its side cannot keep the socket: end() is followed by a hard close.
    if (!this.socket.destroyed) setTimeout(() => this.socket.destroy(), 1000).unref();
    this.o.closed(this);
  }
}

/** The handshake names the other end by its id; for a client that id means nothing to a reader. */
function asClientError(e: unknown): TesseraError {
  if (!(e instanceof TesseraError)) return new TesseraError('INVARIANT', String(e), { cause: e });
  const principal = `node ${CLIENT_PRINCIPAL_ID}`;
  if (!e.message.includes(principal)) return e;
  return new TesseraError(e.code, e.message.slice(`${e.code}: `.length).replaceAll(principal, 'the client'), { cause: e });
}

function call<K extends ClientOp>(handlers: ClientOpHandlers, req: ClientRequest<K>): Promise<OpResult<K>> {
  try {
    const handler: (...args: ClientRequest<K>['args']) => Promise<OpResult<K>> = handlers[req.op];
    return handler.apply(handlers, req.args);
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
