/**
 * One authenticated connection from a client to a node (the client protocol of
 * src/net/tcp/client-protocol.ts): with `tls`, first a mutual TLS handshake (the node's
 * certificate checked against the CA and the address dialled, ours presented), then the
 * preamble, the handshake in the accepting role (the node introduces itself, so its id is
 * learnt, authenticated, from its hello), then requests multiplexed by id.
 *
 * A connection is used until it fails and is never reopened: RemoteEndpoint dials a new one.
 * When it fails, every request waiting on it is rejected with CLOSED, whatever it was (a write
 * may or may not have been applied: the client's sessions make retrying it safe).
 *
 * Bounds: MAX_INFLIGHT_REQUESTS on the wire (the node refuses more), then a local FIFO of at
 * most MAX_QUEUED_REQUESTS (more are refused with OVERLOADED: nothing was sent), and a
 * deadline per request past the node's own (REQUEST_DEADLINE_MS), so a node that never answers
 * cannot hold a caller.
 */
import type net from 'node:net';
import { TesseraError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import { decodeResponse, encodePreamble, encodeRequest, errorFromWire, resultOf } from '../net/tcp/client-codec.ts';
import {
  CLIENT_CHANNEL,
  CLIENT_PRINCIPAL_ID,
  CLIENT_PROTOCOL_VERSION,
  MAX_CLIENT_FRAME_BYTES,
  MAX_INFLIGHT_REQUESTS,
  REQUEST_DEADLINE_MS,
  type ClientOp,
  type OpArgs,
  type OpResult,
} from '../net/tcp/client-protocol.ts';
import { formatAddress } from '../net/tcp/address.ts';
import { FrameDecoder } from '../net/tcp/frame.ts';
import { ServerHandshake } from '../net/tcp/handshake.ts';
import { KEEPALIVE_MS } from '../net/tcp/tcp-tuning.ts';
import { dial, type PeerAddress, type TcpTlsOptions } from '../net/tcp/tls.ts';
import { writeCorked } from '../net/tcp/corked-write.ts';

/** Requests waiting for a slot on the wire; more fail at once. */
export const MAX_QUEUED_REQUESTS = 4096;
/** How much longer than the node's deadline a request waits for its answer (latency, clock rates). */
export const RESPONSE_SLACK_MS = 5_000;

export interface RemoteConnectionOptions {
  readonly address: PeerAddress;
  readonly clusterId: string;
  readonly secret: Uint8Array;
  /** Refuse a node with another id (the address book is wrong). */
  readonly expectedId?: NodeId;
  /** From the dial to the end of the handshake. */
  readonly handshakeTimeoutMs: number;
  /** Speak TLS (a node started with TLS accepts nothing else). */
  readonly tls?: TcpTlsOptions;
}

interface Waiting {
  readonly op: ClientOp;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

interface Queued extends Waiting {
  readonly id: number;
  readonly frame: Uint8Array;
  readonly deadlineMs: number;
}

/** A node hung up mid-TLS-handshake (rather than rejecting a certificate with a reason). */
function hungUp(e: Error | null): boolean {
  return e === null || (e as NodeJS.ErrnoException).code === 'ECONNRESET';
}

/**
 * Why a node may close a connection right after accepting it. Without TLS a node started with
 * TLS is among them (it drops clear text without a word); with TLS, our certificate (under TLS
 * 1.3 the node judges it after our side saw the handshake finish).
 */
function refusalReasons(tls: boolean): string {
  return tls
    ? 'it refused our certificate, or another cluster id or protocol version, or too many clients'
    : 'another cluster id or protocol version, too many clients, or the node requires TLS';
}

export class RemoteConnection {
  private readonly waiting = new Map<number, Waiting>();
  private readonly queue: Queued[] = [];
  private readonly decoder = new FrameDecoder(MAX_CLIENT_FRAME_BYTES);
  private nextId = 1;
  private failure: TesseraError | null = null;
  /** Told the node's leader hint, from every answer. */
  onLeader: ((leader: NodeId) => void) | null = null;
  /** Called once when the connection fails or is closed, with why (set it after open: see `closed`). */
  onClose: ((error: TesseraError) => void) | null = null;

  private constructor(
    private readonly socket: net.Socket,
    /** The node at the other end, as its handshake proved. */
    readonly nodeId: NodeId,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(new TesseraError('CLOSED', `connection to node ${nodeId} lost: ${e.message}`, { cause: e })));
    socket.on('close', () => this.fail(new TesseraError('CLOSED', `connection to node ${nodeId} lost`)));
  }

  /**
   * Dials and authenticates. Rejects with CLOSED (unreachable), TIMEOUT, AUTH_FAILED (another
   * secret or cluster, or another node than expectedId) or PROTOCOL_ERROR.
   */
  static open(o: RemoteConnectionOptions): Promise<RemoteConnection> {
    const where = formatAddress(o.address);
    return new Promise<RemoteConnection>((resolve, reject) => {
      let dialled: ReturnType<typeof dial>;
      try {
        dialled = dial(o.address, o.tls);
      } catch (e) {
        // Options Node refuses (an unparsable certificate): connect() checks them first.
        return reject(new TesseraError('INVALID_ARGUMENT', `${where}: cannot dial: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      }
      const { socket, readyEvent } = dialled;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, KEEPALIVE_MS);
      const hs = new ServerHandshake({
        clusterId: o.clusterId,
        self: CLIENT_PRINCIPAL_ID,
        secret: o.secret,
        isPeer: (id) => id < CLIENT_PRINCIPAL_ID,
        acceptsChannel: (channel) => channel === CLIENT_CHANNEL,
      });
      let phase: 'tcp' | 'tls' | 'preamble' | 'done' = 'tcp';
      const fail = (error: TesseraError): void => {
        if (phase === 'done') return;
        phase = 'done';
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new TesseraError('TIMEOUT', `${where}: no handshake within ${o.handshakeTimeoutMs} ms`)), o.handshakeTimeoutMs);
      const onData = (chunk: Buffer): void => {
        if (phase === 'done') return;
        try {
          const step = hs.receive(chunk);
          for (const f of step.send) socket.write(f);
          if (step.done === null) return;
          const id = step.done.peer;
          if (o.expectedId !== undefined && id !== o.expectedId) {
            throw new TesseraError('AUTH_FAILED', `${where} is node ${id}, not node ${o.expectedId} as configured`);
          }
          phase = 'done';
          clearTimeout(timer);
          socket.off('data', onData);
          socket.removeAllListeners('close');
          socket.removeAllListeners('error');
          const connection = new RemoteConnection(socket, id);
          if (step.done.rest.byteLength > 0) connection.onData(step.done.rest);
          resolve(connection);
        } catch (e) {
          fail(e instanceof TesseraError ? e : new TesseraError('INVARIANT', String(e), { cause: e }));
        }
      };
      if (readyEvent === 'secureConnect') {
        socket.once('connect', () => {
          if (phase === 'tcp') phase = 'tls';
        });
      }
      socket.once(readyEvent, () => {
        if (phase !== 'tcp' && phase !== 'tls') return;
        phase = 'preamble';
        socket.write(encodePreamble(CLIENT_PROTOCOL_VERSION, o.clusterId));
      });
      socket.on('data', onData);
      const closed = (e: Error | null): void => {
        const why = e === null ? 'connection closed' : e.message;
        if (phase === 'tcp') return fail(new TesseraError('CLOSED', `cannot connect to ${where}: ${why}`, { cause: e ?? undefined }));
        // Our CA (or the name dialled) does not match the node's certificate, or the node refused ours.
        if (phase === 'tls') return fail(new TesseraError('AUTH_FAILED', `TLS handshake with ${where} failed: ${why}${hungUp(e) ? ' (the node hung up: does it run without TLS?)' : ''}`, { cause: e ?? undefined }));
        fail(hs.closedByPeer() ?? new TesseraError('AUTH_FAILED', `${where} refused the connection before its handshake (${refusalReasons(o.tls !== undefined)}): ${why}`));
      };
      socket.on('error', (e) => closed(e));
      socket.on('close', () => closed(null));
    });
  }

  get closed(): boolean {
    return this.failure !== null;
  }

  /** Requests on the wire or queued for it. */
  get pending(): number {
    return this.waiting.size + this.queue.length;
  }

  /**
   * Sends a request; resolves with the node's answer, rejects with its error (code kept),
   * CLOSED if the connection fails first, TIMEOUT after deadlineMs.
   */
  request<K extends ClientOp>(op: K, args: OpArgs<K>, deadlineMs: number = REQUEST_DEADLINE_MS + RESPONSE_SLACK_MS): Promise<OpResult<K>> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    let frame: Uint8Array;
    try {
      frame = encodeRequest(id, op, args);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return new Promise<OpResult<K>>((resolve, reject) => {
      const w: Queued = { id, op, resolve: resolve as (v: unknown) => void, reject, timer: null, frame, deadlineMs };
      if (this.waiting.size < MAX_INFLIGHT_REQUESTS) return this.send(w);
      if (this.queue.length >= MAX_QUEUED_REQUESTS) {
        return reject(new TesseraError('OVERLOADED', `more than ${MAX_QUEUED_REQUESTS} requests wait for node ${this.nodeId}: refused, nothing was sent`));
      }
      this.queue.push(w);
    });
  }

  /** Closes the connection; pending requests fail with CLOSED. Idempotent. */
  close(): void {
    this.fail(new TesseraError('CLOSED', `connection to node ${this.nodeId} closed`));
  }

  private send(w: Queued): void {
    // The deadline runs from the send: a queued request has not reached the node yet.
    w.timer = setTimeout(() => {
      this.waiting.delete(w.id);
      w.reject(new TesseraError('TIMEOUT', `node ${this.nodeId} did not answer ${w.op} within ${w.deadlineMs} ms`));
      this.pump();
    }, w.deadlineMs);
    this.waiting.set(w.id, w);
    writeCorked(this.socket, w.frame);
  }

  private pump(): void {
    while (this.failure === null && this.waiting.size < MAX_INFLIGHT_REQUESTS && this.queue.length > 0) {
      this.send(this.queue.shift()!);
    }
  }

  private onData(chunk: Uint8Array): void {
    if (this.failure !== null) return;
    try {
      this.decoder.push(chunk);
      for (let payload = this.decoder.next(); payload !== null && this.failure === null; payload = this.decoder.next()) this.answer(payload);
    } catch (e) {
      this.fail(new TesseraError('CLOSED', `node ${this.nodeId} sent an invalid response: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
    }
  }

  private answer(payload: Uint8Array): void {
    const res = decodeResponse(payload);
    if (res.id === 0) {
      // About the connection: the node is closing it, and says why.
      const why = res.ok ? 'an answer without an id' : errorFromWire(res.error);
      return this.fail(new TesseraError('CLOSED', `node ${this.nodeId} closed the connection: ${why instanceof Error ? why.message : why}`, { cause: why }));
    }
    this.onLeader?.(res.leader);
    const w = this.waiting.get(res.id);
    if (w === undefined) return; // answered after its deadline: nobody waits for it
    if (res.ok) w.resolve(resultOf(w.op, res.value)); // a bad value throws here: the connection fails, w with it
    else w.reject(errorFromWire(res.error));
    this.waiting.delete(res.id);
    if (w.timer !== null) clearTimeout(w.timer);
    this.pump();
  }

  private fail(error: TesseraError): void {
    if (this.failure !== null) return;
    this.failure = error.code === 'CLOSED' ? error : new TesseraError('CLOSED', error.message.replace(/^[A-Z_]+: /, ''), { cause: error });
    for (const w of [...this.waiting.values(), ...this.queue]) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(this.failure);
    }
    this.waiting.clear();
    this.queue.length = 0;
    this.socket.destroy();
    this.onClose?.(this.failure);
  }
}
