/**
 * One accepted connection: the server handshake under a deadline, then a stream of message
 * frames from the authenticated peer, each decoded, checked and delivered.
 *
 * Everything a peer can send is handled without throwing: bad bytes, failed authentication, a
 * message claiming another sender or addressed to another node, all end in closing this one
 * socket and a log line (once per peer and reason). The node itself never sees them.
 */
import type net from 'node:net';
import { TesseraError } from '../../errors.ts';
import type { Message, NodeId } from '../../raft/types.ts';
import { FrameDecoder, MAX_FRAME_BYTES } from './frame.ts';
import { ServerHandshake } from './handshake.ts';
import { laneOfChannel, type Lane } from './lanes.ts';
import type { LogOnce } from './log-once.ts';
import { decodeMessage } from './message-codec.ts';
import { KEEPALIVE_MS } from './tcp-tuning.ts';

export interface InboundOptions {
  readonly self: NodeId;
  readonly clusterId: string;
  readonly secret: Uint8Array;
  readonly isPeer: (id: NodeId) => boolean;
  readonly handshakeTimeoutMs: number;
  readonly log: LogOnce;
  /** The handshake succeeded; the network may replace an older connection of the same peer and lane. */
  readonly authenticated: (connection: InboundConnection) => void;
  /** The connection is gone (called once, also after a failed handshake). */
  readonly closed: (connection: InboundConnection) => void;
  readonly deliver: (message: Message) => void;
}

export class InboundConnection {
  private handshake: ServerHandshake | null;
  private decoder: FrameDecoder | null = null;
  private deadline: NodeJS.Timeout | null;
  private done = false;
  private authenticatedPeer: NodeId = 0;
  private authenticatedLane: Lane | null = null;
  /** Remote address at accept time (the socket forgets it once destroyed). */
  private readonly remote: string;

  constructor(
    readonly socket: net.Socket,
    private readonly o: InboundOptions,
  ) {
    this.remote = socket.remoteAddress ?? 'unknown address';
    this.handshake = new ServerHandshake({
      clusterId: o.clusterId,
      self: o.self,
      secret: o.secret,
      isPeer: o.isPeer,
      acceptsChannel: (channel) => laneOfChannel(channel) !== null,
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    this.deadline = setTimeout(
      () => this.fail(new TesseraError('TIMEOUT', `no handshake within ${o.handshakeTimeoutMs} ms`)),
      o.handshakeTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // A client that gives up mid-handshake usually rejected our proof: say so rather than "reset".
    socket.on('error', (e) => this.fail(this.handshake?.closedByPeer() ?? new TesseraError('CLOSED', `connection error: ${e.message}`, { cause: e })));
    socket.on('close', () => this.fail(this.handshake?.closedByPeer() ?? null));
  }

  /** The authenticated peer, 0 before. */
  get peer(): NodeId {
    return this.authenticatedPeer;
  }

  /** The lane it opened, null before authentication. */
  get lane(): Lane | null {
    return this.authenticatedLane;
  }

  /** Bytes read from the socket before this connection took it over, then reading resumes. */
  replay(head: Uint8Array): void {
    if (head.length > 0) this.onData(Buffer.from(head.buffer, head.byteOffset, head.byteLength));
    if (!this.done) this.socket.resume();
  }

  /** Closes the connection without logging (shutdown, or replaced by a newer one). */
  close(): void {
    this.fail(null);
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    try {
      if (this.handshake !== null) this.continueHandshake(this.handshake, chunk);
      else this.receiveFrames(chunk);
    } catch (e) {
      this.fail(e instanceof TesseraError ? e : new TesseraError('INVARIANT', String(e), { cause: e }));
    }
  }

  private continueHandshake(hs: ServerHandshake, chunk: Uint8Array): void {
    const step = hs.receive(chunk);
    for (const frame of step.send) this.socket.write(frame);
    if (step.done === null) return;
    const lane = laneOfChannel(step.done.channel);
    if (lane === null) throw new TesseraError('INVARIANT', `the handshake accepted unknown channel ${step.done.channel}`);
    this.handshake = null;
    this.authenticatedPeer = step.done.peer;
    this.authenticatedLane = lane;
    this.clearDeadline();
    this.decoder = new FrameDecoder(MAX_FRAME_BYTES);
    this.o.log.forget(this.name);
    this.o.authenticated(this);
    if (step.done.rest.byteLength > 0) this.receiveFrames(step.done.rest);
  }

  private receiveFrames(chunk: Uint8Array): void {
    const decoder = this.decoder!;
    decoder.push(chunk);
    for (let payload = decoder.next(); payload !== null && !this.done; payload = decoder.next()) {
      const m = decodeMessage(payload);
      // The handshake authenticated the connection, not the message: hold the message to it.
      const peer = this.authenticatedPeer;
      if (m.from !== peer) throw new TesseraError('PROTOCOL_ERROR', `node ${peer} sent a message claiming to be from node ${m.from}`);
      if (m.to !== this.o.self) throw new TesseraError('PROTOCOL_ERROR', `node ${peer} sent a message for node ${m.to} to node ${this.o.self}`);
      this.o.deliver(m);
    }
  }

  /** How logs name the other end: its node id once authenticated; before, only its address (a claimed id proves nothing). */
  private get name(): string {
    return this.authenticatedPeer !== 0 ? `node ${this.authenticatedPeer}` : this.remote;
  }

  private fail(error: TesseraError | null): void {
    if (this.done) return;
    this.done = true;
    this.clearDeadline();
    this.handshake = null;
    this.decoder = null;
    if (error !== null) this.o.log.report(this.name, error);
    this.socket.destroy();
    this.o.closed(this);
  }

  private clearDeadline(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
  }
}
