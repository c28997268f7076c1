/**
 * One outbound lane to one peer: a bounded queue of encoded frames in front of a connection
 * that is dialled lazily (on the first frame), authenticated by the client handshake, and
 * redialled with capped exponential back-off after any failure.
 *
 * Memory: the queue's bounds plus what the socket buffers, which is at most one frame beyond
 * its high-water mark because the queue stops feeding it when write() returns false and only
 * resumes on 'drain'. A peer that stops reading therefore costs a bounded amount; the queue
 * drops its oldest frames and counts them.
 *
 * Connections are one-way: messages flow from dialler to acceptor only. Each node dials its own
 * lanes to every peer, so no connection ever needs to be shared or tie-broken.
 */
import type net from 'node:net';
import { TesseraError } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import { Backoff } from './backoff.ts';
import { ClientHandshake } from './handshake.ts';
import { LANE_CHANNEL, type Lane } from './lanes.ts';
import type { LogOnce } from './log-once.ts';
import { SendQueue } from './send-queue.ts';
import { KEEPALIVE_MS, type TcpTuning } from './tcp-tuning.ts';
import { dial, type PeerAddress, type TcpTlsOptions } from './tls.ts';

export interface PeerLinkOptions {
  readonly self: NodeId;
  readonly peer: NodeId;
  readonly lane: Lane;
  /** Looked up at every dial, so an address book updated in place (a peer that moved) takes effect. */
  readonly address: () => PeerAddress | undefined;
  readonly clusterId: string;
  readonly secret: Uint8Array;
  readonly tls: TcpTlsOptions | undefined;
  readonly tuning: TcpTuning;
  readonly log: LogOnce;
  /** Called with every socket this link creates, so the network can wait for it on close(). */
  readonly track: (socket: net.Socket) => void;
}

export type LinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

export interface LinkStats {
  readonly peer: NodeId;
  readonly lane: Lane;
  readonly state: LinkState;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Bytes written to the socket and not yet handed to the kernel. */
  readonly socketBufferedBytes: number;
  readonly sentMessages: number;
  /** Frames dropped because the queue was full (or discarded by close). */
  readonly droppedMessages: number;
  /** Handshakes completed. */
  readonly connects: number;
}

/** Where a connection attempt was when it failed: it decides what the failure means. */
type Phase = 'tcp' | 'tls' | 'handshake' | 'open';

export class PeerLink {
  private state: LinkState = 'idle';
  private readonly queue: SendQueue;
  private readonly backoff: Backoff;
  private socket: net.Socket | null = null;
  private handshake: ClientHandshake | null = null;
  private phase: Phase = 'tcp';
  private deadline: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private waitingDrain = false;
  private sent = 0;
  private connects = 0;
  private readonly name: string;
  /** Where the current or last dial went (for messages). */
  private address: PeerAddress = { host: '?', port: 0 };

  constructor(private readonly o: PeerLinkOptions) {
    const t = o.tuning;
    this.queue = o.lane === 'control' ? new SendQueue(t.controlQueueMaxMessages, t.controlQueueMaxBytes) : new SendQueue(t.bulkQueueMaxMessages, t.bulkQueueMaxBytes);
    this.backoff = new Backoff(t.reconnectBaseMs, t.reconnectMaxMs);
    this.name = `node ${o.peer}`;
  }

  private pumpScheduled = false;

  send(frame: Uint8Array): void {
    if (this.state === 'closed') {
      this.queue.dropped++;
      return;
    }
    this.queue.push(frame);
    if (this.state === 'idle') this.dial();
    else if (this.state === 'open') this.schedulePump();
  }

  /**
   * The runtime sends a Ready's messages one call each; writing them out at the end of the
   * current turn, corked, makes them one system call instead of one per frame.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  stats(): LinkStats {
    return {
      peer: this.o.peer,
      lane: this.o.lane,
      state: this.state,
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.bytes,
      socketBufferedBytes: this.socket?.writableLength ?? 0,
      sentMessages: this.sent,
      droppedMessages: this.queue.dropped,
      connects: this.connects,
    };
  }

  /** Stops for good: the socket is destroyed (the network awaits its 'close'), queued frames are discarded. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimers();
    this.queue.clear();
    this.socket?.destroy();
    this.socket = null;
  }

  private dial(): void {
    const address = this.o.address();
    if (address === undefined) {
      // The peer left the address book: nothing queued for it can be delivered.
      this.queue.clear();
      this.state = 'idle';
      this.report(new TesseraError('INVALID_ARGUMENT', `no address for ${this.name}: its queued messages were dropped`));
      return;
    }
    this.address = address;
    this.state = 'connecting';
    this.phase = 'tcp';
    this.waitingDrain = false;
    const hs = new ClientHandshake({
      clusterId: this.o.clusterId,
      self: this.o.self,
      peer: this.o.peer,
      channel: LANE_CHANNEL[this.o.lane],
      secret: this.o.secret,
    });
    this.handshake = hs;
    let socket: net.Socket;
    let readyEvent: 'connect' | 'secureConnect';
    try {
      ({ socket, readyEvent } = dial(address, this.o.tls));
    } catch (e) {
      // Bad options (an unparsable certificate, say) fail synchronously: treat like a failed dial.
      this.state = 'backoff';
      this.report(new TesseraError('CLOSED', `cannot dial ${this.name}: ${errorText(e)}`, { cause: e }));
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    this.o.track(socket);
    socket.setNoDelay(true); // heartbeats are small and latency-bound
    socket.setKeepAlive(true, KEEPALIVE_MS);
    this.deadline = setTimeout(
      () => this.fail(socket, new TesseraError('TIMEOUT', `${this.name} did not complete the handshake within ${this.o.tuning.handshakeTimeoutMs} ms`)),
      this.o.tuning.handshakeTimeoutMs,
    );
    if (readyEvent === 'secureConnect') {
      socket.once('connect', () => {
        if (this.socket === socket) this.phase = 'tls';
      });
    }
    socket.once(readyEvent, () => {
      if (this.socket !== socket) return;
      this.phase = 'handshake';
      socket.write(hs.start());
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('drain', () => {
      if (this.socket !== socket) return;
      this.waitingDrain = false;
      this.pump();
    });
    socket.on('error', (e) => this.fail(socket, this.explain(e)));
    socket.on('close', () => this.fail(socket, this.explain(null)));
  }

  private onData(socket: net.Socket, chunk: Buffer): void {
    if (this.socket !== socket) return;
    const hs = this.handshake;
    if (this.phase !== 'handshake' || hs === null) {
      this.fail(socket, new TesseraError('PROTOCOL_ERROR', `${this.name} sent data on a connection that only carries our messages`));
      return;
    }
    try {
      const step = hs.receive(chunk);
      for (const frame of step.send) socket.write(frame);
      if (step.done === null) return;
      if (step.done.rest.byteLength > 0) throw new TesseraError('PROTOCOL_ERROR', `${this.name} sent data after its welcome`);
      this.opened();
    } catch (e) {
      this.fail(socket, e instanceof TesseraError ? e : new TesseraError('INVARIANT', errorText(e), { cause: e }));
    }
  }

  private opened(): void {
    this.clearTimers();
    this.state = 'open';
    this.phase = 'open';
    this.handshake = null;
    this.connects++;
    this.backoff.reset();
    this.o.log.forget(this.name);
    this.pump();
  }

  private pump(): void {
    const socket = this.socket;
    if (this.state !== 'open' || socket === null || this.waitingDrain) return;
    socket.cork();
    try {
      for (let frame = this.queue.shift(); frame !== undefined; frame = this.queue.shift()) {
        this.sent++;
        if (!socket.write(frame)) {
          this.waitingDrain = true; // respect the socket's backpressure: the rest waits in the bounded queue
          return;
        }
      }
    } finally {
      socket.uncork();
    }
  }

  /** Tears down the current connection (once per socket) and plans the next attempt. */
  private fail(socket: net.Socket, error: TesseraError): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.handshake = null;
    this.waitingDrain = false;
    this.clearTimers();
    socket.destroy();
    if (this.state === 'closed') return;
    this.report(error);
    if (this.queue.length === 0) {
      this.state = 'idle'; // lazy: the next frame dials
      return;
    }
    this.state = 'backoff';
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.state === 'backoff') this.dial();
    }, this.backoff.next());
  }

  private explain(e: Error | null): TesseraError {
    const why = e === null ? 'connection closed' : e.message;
    switch (this.phase) {
      case 'tcp':
        return new TesseraError('CLOSED', `cannot connect to ${this.name} at ${this.address.host}:${this.address.port}: ${why}`, { cause: e ?? undefined });
      case 'tls':
        return new TesseraError('AUTH_FAILED', `TLS handshake with ${this.name} failed: ${why}`, { cause: e ?? undefined });
      case 'handshake':
        // A server that rejects us just closes (often with a reset, as our bytes are unread).
        return this.handshake?.closedByPeer() ?? new TesseraError('CLOSED', `${this.name}: ${why}`);
      case 'open':
        return new TesseraError('CLOSED', `connection to ${this.name} lost: ${why}`, { cause: e ?? undefined });
    }
  }

  private report(error: TesseraError): void {
    this.o.log.report(this.name, error);
  }

  private clearTimers(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    if (this.retry !== null) clearTimeout(this.retry);
    this.deadline = null;
    this.retry = null;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
