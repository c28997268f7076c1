/**
 * The four handshake frames on the wire (MessagePack arrays, tagged by their first element):
 *
 *   client -> server  hello     [1, version, clusterId, fromNodeId, toNodeId, channel, clientNonce]
 *   server -> client  challenge [2, serverNonce, serverProof]
 *   client -> server  response  [3, clientProof]
 *   server -> client  welcome   [4]
 *
 * The version is checked before anything else is interpreted, so a later version may change
 * everything after it.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TesseraError } from '../../errors.ts';
import { MAX_CLUSTER_ID_BYTES } from '../../limits.ts';
import type { NodeId } from '../../raft/types.ts';
import { encodeFrame } from './frame.ts';
import { bytes, nodeId, protocolError, str, tuple, uint } from './wire-schema.ts';

export const HANDSHAKE_VERSION = 1;
/** Random bytes each side contributes to a handshake. */
export const NONCE_BYTES = 32;
/** HMAC-SHA256 output. */
export const PROOF_BYTES = 32;
/** Every handshake frame fits easily; an unauthenticated peer can make us buffer no more. */
export const HANDSHAKE_MAX_FRAME_BYTES = 4 * 1024;
/** Channels a client may ask for (the network uses a few: control, bulk). */
export const MAX_CHANNEL = 255;

export interface Hello {
  readonly kind: 'hello';
  readonly version: number;
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly channel: number;
  readonly nonce: Uint8Array;
}
export interface Challenge {
  readonly kind: 'challenge';
  readonly nonce: Uint8Array;
  readonly proof: Uint8Array;
}
export interface Response {
  readonly kind: 'response';
  readonly proof: Uint8Array;
}
export interface Welcome {
  readonly kind: 'welcome';
}
export type HandshakeMessage = Hello | Challenge | Response | Welcome;

const TAGS = { hello: 1, challenge: 2, response: 3, welcome: 4 } as const;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** The frame (header included) of a handshake message. */
export function encodeHandshakeFrame(m: HandshakeMessage): Uint8Array {
  return encodeFrame(packr.pack(toWire(m)), HANDSHAKE_MAX_FRAME_BYTES);
}

function toWire(m: HandshakeMessage): unknown[] {
  switch (m.kind) {
    case 'hello':
      return [TAGS.hello, m.version, m.clusterId, m.from, m.to, m.channel, m.nonce];
    case 'challenge':
      return [TAGS.challenge, m.nonce, m.proof];
    case 'response':
      return [TAGS.response, m.proof];
    case 'welcome':
      return [TAGS.welcome];
  }
}

/** Decodes one handshake payload; throws PROTOCOL_ERROR for anything else. */
export function decodeHandshakeMessage(payload: Uint8Array): HandshakeMessage {
  let value: unknown;
  try {
    value = unpackr.unpack(payload);
  } catch (e) {
    throw new TesseraError('PROTOCOL_ERROR', `handshake frame is not MessagePack: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!Array.isArray(value) || value.length === 0) throw protocolError('handshake frame: expected a tagged array');
  switch (value[0]) {
    case TAGS.hello: {
      const f = tuple(value, 7, 'hello');
      const version = uint(f[1], 'hello.version');
      // Nothing after the version is interpreted if the version is not ours.
      if (version !== HANDSHAKE_VERSION) throw protocolError(`hello: handshake version ${version} is not supported (this node speaks ${HANDSHAKE_VERSION})`);
      const clusterId = str(f[2], 'hello.clusterId');
      if (Buffer.byteLength(clusterId, 'utf8') > MAX_CLUSTER_ID_BYTES) throw protocolError('hello.clusterId: too long');
      const channel = uint(f[5], 'hello.channel');
      if (channel > MAX_CHANNEL) throw protocolError('hello.channel: out of range');
      return { kind: 'hello', version, clusterId, from: nodeId(f[3], 'hello.from'), to: nodeId(f[4], 'hello.to'), channel, nonce: bytes(f[6], 'hello.nonce', NONCE_BYTES) };
    }
    case TAGS.challenge: {
      const f = tuple(value, 3, 'challenge');
      return { kind: 'challenge', nonce: bytes(f[1], 'challenge.nonce', NONCE_BYTES), proof: bytes(f[2], 'challenge.proof', PROOF_BYTES) };
    }
    case TAGS.response: {
      const f = tuple(value, 2, 'response');
      return { kind: 'response', proof: bytes(f[1], 'response.proof', PROOF_BYTES) };
    }
    case TAGS.welcome:
      tuple(value, 1, 'welcome');
      return { kind: 'welcome' };
    default:
      throw protocolError('handshake frame: unknown tag');
  }
}
