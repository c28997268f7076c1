/**
 * Mutual authentication of two nodes that share a cluster secret, as pure state machines (bytes
 * in, frames out, a result or a typed error) so they can be tested and fuzzed without sockets;
 * randomness and the secret are injected.
 *
 *   client -> server  hello{version, clusterId, from, to, channel, clientNonce}
 *   server -> client  challenge{serverNonce, serverProof = HMAC(secret, "server" | transcript)}
 *   client -> server  response{clientProof = HMAC(secret, "client" | transcript)}
 *   server -> client  welcome
 *
 * transcript = version | clusterId | server id | client id | channel | clientNonce | serverNonce,
 * each field fixed-size or length-prefixed so no two transcripts encode alike.
 *
 * - Replay: the server draws a fresh nonce per connection, so a recorded response proves nothing
 *   on a new connection. The client's nonce does the same for the server's proof.
 * - Reflection: the role label differs, so a proof a server computes can never serve as a client
 *   proof (nor the reverse); the ids bind a proof to one ordered pair of nodes.
 * - The server's proof costs it nothing secret-revealing (HMAC), and it lets the client refuse a
 *   server that does not know the secret before saying anything that depends on it.
 * - Proofs are compared with crypto.timingSafeEqual.
 * - The client waits for welcome before sending messages: a peer that rejected it closes the
 *   connection and nothing was sent into the void.
 *
 * The handshake authenticates the start of a connection only: without TLS, a network attacker
 * able to hijack TCP could inject frames afterwards. Use TLS on networks you do not trust.
 */
import { createHmac, randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';
import { TesseraError } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import { asUint8Array } from '../../util/bytes.ts';
import { checkClusterId } from '../../util/cluster-id.ts';
import { FrameDecoder } from './frame.ts';
import {
  HANDSHAKE_MAX_FRAME_BYTES,
  HANDSHAKE_VERSION,
  MAX_CHANNEL,
  NONCE_BYTES,
  decodeHandshakeMessage,
  encodeHandshakeFrame,
  type HandshakeMessage,
} from './handshake-messages.ts';

/** A peer that has not completed the handshake by then is disconnected (for a dialer: from the start of the dial). */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/** Shorter secrets are refused: the secret is the only thing standing between the cluster and anyone who can connect. */
export const MIN_SECRET_BYTES = 16;

export type RandomBytes = (length: number) => Uint8Array;

export interface HandshakeDone {
  /** The authenticated peer. */
  readonly peer: NodeId;
  readonly channel: number;
  /** Bytes received after the last handshake frame; they belong to whatever follows. */
  readonly rest: Uint8Array;
}

export interface HandshakeStep {
  /** Frames to write to the peer, in order (also when `done` is set). */
  readonly send: readonly Uint8Array[];
  readonly done: HandshakeDone | null;
}

interface CommonOptions {
  readonly clusterId: string;
  readonly self: NodeId;
  readonly secret: Uint8Array;
  /** Defaults to crypto.randomBytes. */
  readonly randomBytes?: RandomBytes;
}

export interface ClientHandshakeOptions extends CommonOptions {
  /** The node we believe we are dialling: the server must prove it is that node. */
  readonly peer: NodeId;
  readonly channel: number;
}

export interface ServerHandshakeOptions extends CommonOptions {
  /** Whether a node id may connect (a member of the cluster other than us). */
  readonly isPeer: (id: NodeId) => boolean;
  /** Whether a channel may be opened; default: any. Checked at hello, before any proof. */
  readonly acceptsChannel?: (channel: number) => boolean;
}

interface Transcript {
  readonly clusterId: string;
  readonly server: NodeId;
  readonly client: NodeId;
  readonly channel: number;
  readonly clientNonce: Uint8Array;
  readonly serverNonce: Uint8Array;
}

/** HMAC-SHA256 over the role label and the transcript. Exported for tests. */
export function handshakeProof(secret: Uint8Array, role: 'server' | 'client', t: Transcript): Uint8Array {
  const cluster = Buffer.from(t.clusterId, 'utf8');
  const label = Buffer.from(`tessera/handshake/${role}`, 'latin1');
  const buf = Buffer.alloc(1 + label.length + 2 + 2 + cluster.length + 8 + 8 + 1 + t.clientNonce.length + t.serverNonce.length);
  let at = 0;
  at = buf.writeUInt8(label.length, at);
  at += label.copy(buf, at);
  at = buf.writeUInt16BE(HANDSHAKE_VERSION, at);
  at = buf.writeUInt16BE(cluster.length, at);
  at += cluster.copy(buf, at);
  at = writeU64(buf, t.server, at);
  at = writeU64(buf, t.client, at);
  at = buf.writeUInt8(t.channel, at);
  buf.set(t.clientNonce, at);
  buf.set(t.serverNonce, at + t.clientNonce.length);
  return asUint8Array(createHmac('sha256', secret).update(buf).digest());
}

function writeU64(buf: Buffer, n: number, at: number): number {
  at = buf.writeUInt32BE(Math.floor(n / 2 ** 32), at);
  return buf.writeUInt32BE(n >>> 0, at);
}

type ClientState = 'new' | 'awaitChallenge' | 'awaitWelcome' | 'done' | 'failed';
type ServerState = 'awaitHello' | 'awaitResponse' | 'done' | 'failed';

/** The dialling side. Call start() once, write its frame, then feed every received chunk to receive(). */
export class ClientHandshake {
  private state: ClientState = 'new';
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly nonce: Uint8Array;
  private readonly secret: Uint8Array;

  constructor(private readonly o: ClientHandshakeOptions) {
    checkCommon(o);
    if (!Number.isSafeInteger(o.peer) || o.peer < 1 || o.peer === o.self) throw new TesseraError('INVALID_ARGUMENT', `bad peer id ${o.peer}`);
    if (!Number.isInteger(o.channel) || o.channel < 0 || o.channel > MAX_CHANNEL) throw new TesseraError('INVALID_ARGUMENT', `bad channel ${o.channel}`);
    this.secret = new Uint8Array(o.secret);
    this.nonce = drawNonce(o.randomBytes);
  }

  /** The hello frame. */
  start(): Uint8Array {
    if (this.state !== 'new') throw new TesseraError('INVARIANT', 'client handshake started twice');
    this.state = 'awaitChallenge';
    const { clusterId, self, peer, channel } = this.o;
    return encodeHandshakeFrame({ kind: 'hello', version: HANDSHAKE_VERSION, clusterId, from: self, to: peer, channel, nonce: this.nonce });
  }

  /** Throws AUTH_FAILED, PROTOCOL_ERROR or MESSAGE_TOO_LARGE; after a throw the machine stays failed. */
  receive(chunk: Uint8Array): HandshakeStep {
    if (this.state !== 'awaitChallenge' && this.state !== 'awaitWelcome') throw new TesseraError('INVARIANT', `client handshake fed bytes in state ${this.state}`);
    const r = step(this.decoder, chunk, (m) => this.handle(m), () => (this.state = 'failed'));
    return { send: r.send, done: r.rest === null ? null : { peer: this.o.peer, channel: this.o.channel, rest: r.rest } };
  }

  /** The error to report when the server closed the connection before welcoming us. */
  closedByPeer(): TesseraError {
    switch (this.state) {
      case 'awaitChallenge':
        return new TesseraError('AUTH_FAILED', `node ${this.o.peer} closed the connection after our hello: it refused the cluster id, node id or version`);
      case 'awaitWelcome':
        return new TesseraError('AUTH_FAILED', `node ${this.o.peer} closed the connection after our proof: it does not share our secret`);
      default:
        return new TesseraError('CLOSED', `node ${this.o.peer} closed the connection during the handshake`);
    }
  }

  private handle(m: HandshakeMessage): { send: Uint8Array[]; done: boolean } {
    if (this.state === 'awaitChallenge' && m.kind === 'challenge') {
      const t: Transcript = { clusterId: this.o.clusterId, server: this.o.peer, client: this.o.self, channel: this.o.channel, clientNonce: this.nonce, serverNonce: m.nonce };
      if (!timingSafeEqual(m.proof, handshakeProof(this.secret, 'server', t))) {
        throw new TesseraError('AUTH_FAILED', `node ${this.o.peer} failed to prove the cluster secret (wrong secret, cluster id or node id on its side)`);
      }
      this.state = 'awaitWelcome';
      return { send: [encodeHandshakeFrame({ kind: 'response', proof: handshakeProof(this.secret, 'client', t) })], done: false };
    }
    if (this.state === 'awaitWelcome' && m.kind === 'welcome') {
      this.state = 'done';
      return { send: [], done: true };
    }
    throw new TesseraError('PROTOCOL_ERROR', `unexpected ${m.kind} frame from the server while in state ${this.state}`);
  }
}

/** The accepting side: feed every received chunk to receive() and write what it returns. */
export class ServerHandshake {
  private state: ServerState = 'awaitHello';
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly secret: Uint8Array;
  private readonly randomBytes: RandomBytes | undefined;
  private transcript: Transcript | null = null;

  constructor(private readonly o: ServerHandshakeOptions) {
    checkCommon(o);
    this.secret = new Uint8Array(o.secret);
    this.randomBytes = o.randomBytes;
  }

  /** Throws AUTH_FAILED, PROTOCOL_ERROR or MESSAGE_TOO_LARGE; after a throw the machine stays failed. */
  receive(chunk: Uint8Array): HandshakeStep {
    if (this.state !== 'awaitHello' && this.state !== 'awaitResponse') throw new TesseraError('INVARIANT', `server handshake fed bytes in state ${this.state}`);
    const r = step(this.decoder, chunk, (m) => this.handle(m), () => (this.state = 'failed'));
    const t = this.transcript;
    return { send: r.send, done: r.rest === null || t === null ? null : { peer: t.client, channel: t.channel, rest: r.rest } };
  }

  /**
   * The error to report when the client closed before finishing, or null if it said nothing
   * (a port probe or health check is not worth a log line).
   */
  closedByPeer(): TesseraError | null {
    if (this.state !== 'awaitResponse' || this.transcript === null) return null;
    return new TesseraError('AUTH_FAILED', `node ${this.transcript.client} (unauthenticated) closed the connection after our challenge: it does not share our secret`);
  }

  private handle(m: HandshakeMessage): { send: Uint8Array[]; done: boolean } {
    if (this.state === 'awaitHello' && m.kind === 'hello') {
      if (m.clusterId !== this.o.clusterId) {
        throw new TesseraError('AUTH_FAILED', `node ${m.from} belongs to cluster ${JSON.stringify(m.clusterId)}, not ${JSON.stringify(this.o.clusterId)}`);
      }
      if (m.to !== this.o.self) throw new TesseraError('AUTH_FAILED', `node ${m.from} dialled node ${m.to}, but this is node ${this.o.self}`);
      if (m.from === this.o.self || !this.o.isPeer(m.from)) throw new TesseraError('AUTH_FAILED', `node ${m.from} is not a peer of node ${this.o.self}`);
      if (this.o.acceptsChannel && !this.o.acceptsChannel(m.channel)) throw new TesseraError('PROTOCOL_ERROR', `node ${m.from} asked for unknown channel ${m.channel}`);
      const serverNonce = drawNonce(this.randomBytes);
      this.transcript = { clusterId: m.clusterId, server: this.o.self, client: m.from, channel: m.channel, clientNonce: m.nonce, serverNonce };
      this.state = 'awaitResponse';
      return { send: [encodeHandshakeFrame({ kind: 'challenge', nonce: serverNonce, proof: handshakeProof(this.secret, 'server', this.transcript) })], done: false };
    }
    if (this.state === 'awaitResponse' && m.kind === 'response' && this.transcript !== null) {
      if (!timingSafeEqual(m.proof, handshakeProof(this.secret, 'client', this.transcript))) {
        throw new TesseraError('AUTH_FAILED', `node ${this.transcript.client} failed to prove the cluster secret`);
      }
      this.state = 'done';
      return { send: [encodeHandshakeFrame({ kind: 'welcome' })], done: true };
    }
    throw new TesseraError('PROTOCOL_ERROR', `unexpected ${m.kind} frame from the client while in state ${this.state}`);
  }
}

/**
 * The shared receive loop: decode frames one at a time, stop at the frame that completes the
 * handshake (what follows is not ours: `rest`), and turn every failure into a typed error once.
 */
function step(
  decoder: FrameDecoder,
  chunk: Uint8Array,
  handle: (m: HandshakeMessage) => { send: Uint8Array[]; done: boolean },
  fail: () => void,
): { send: Uint8Array[]; rest: Uint8Array | null } {
  const send: Uint8Array[] = [];
  try {
    decoder.push(chunk);
    for (let payload = decoder.next(); payload !== null; payload = decoder.next()) {
      const r = handle(decodeHandshakeMessage(payload));
      send.push(...r.send);
      if (r.done) return { send, rest: decoder.takeRest() };
    }
    return { send, rest: null };
  } catch (e) {
    fail();
    if (e instanceof TesseraError) throw e;
    throw new TesseraError('INVARIANT', `handshake failed unexpectedly: ${String(e)}`, { cause: e });
  }
}

function checkCommon(o: CommonOptions): void {
  if (!Number.isSafeInteger(o.self) || o.self < 1) throw new TesseraError('INVALID_ARGUMENT', `bad node id ${o.self}`);
  checkClusterId(o.clusterId);
  if (o.secret.byteLength < MIN_SECRET_BYTES) throw new TesseraError('INVALID_ARGUMENT', `the cluster secret must have at least ${MIN_SECRET_BYTES} bytes`);
}

function drawNonce(randomBytes: RandomBytes | undefined): Uint8Array {
  const nonce = randomBytes ? randomBytes(NONCE_BYTES) : asUint8Array(cryptoRandomBytes(NONCE_BYTES));
  if (nonce.byteLength !== NONCE_BYTES) throw new TesseraError('INVARIANT', `randomBytes returned ${nonce.byteLength} bytes, wanted ${NONCE_BYTES}`);
  return new Uint8Array(nonce);
}
