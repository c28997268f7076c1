import { describe, expect, it } from 'vitest';
import { isTesseraError, type TesseraErrorCode } from '../../../src/errors.ts';
import { encodeFrame } from '../../../src/net/tcp/frame.ts';
import { HANDSHAKE_MAX_FRAME_BYTES, HANDSHAKE_VERSION, NONCE_BYTES, encodeHandshakeFrame } from '../../../src/net/tcp/handshake-messages.ts';
import { ClientHandshake, ServerHandshake, handshakeProof, type HandshakeStep, type RandomBytes } from '../../../src/net/tcp/handshake.ts';
import { Packr } from 'msgpackr';

const SECRET = new TextEncoder().encode('a cluster secret of 32 bytes....');
const OTHER_SECRET = new TextEncoder().encode('another secret, also long enough');

/** Deterministic "randomness": each call returns the next counter value spread over the bytes. */
function counterRandom(start: number): RandomBytes {
  let n = start;
  return (length) => new Uint8Array(length).fill(n++ & 0xff);
}

function client(o: { secret?: Uint8Array; clusterId?: string; self?: number; peer?: number; channel?: number; seed?: number } = {}): ClientHandshake {
  return new ClientHandshake({
    clusterId: o.clusterId ?? 'c1',
    self: o.self ?? 1,
    peer: o.peer ?? 2,
    channel: o.channel ?? 0,
    secret: o.secret ?? SECRET,
    randomBytes: counterRandom(o.seed ?? 10),
  });
}

function server(o: { secret?: Uint8Array; clusterId?: string; self?: number; peers?: number[]; seed?: number } = {}): ServerHandshake {
  const peers = new Set(o.peers ?? [1, 3]);
  return new ServerHandshake({ clusterId: o.clusterId ?? 'c1', self: o.self ?? 2, secret: o.secret ?? SECRET, isPeer: (id) => peers.has(id), randomBytes: counterRandom(o.seed ?? 100) });
}

function codeOf(f: () => unknown): TesseraErrorCode | 'none' {
  try {
    f();
  } catch (e) {
    if (isTesseraError(e)) return e.code;
    throw e;
  }
  return 'none';
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Runs a full exchange, recording what each side wrote. */
function exchange(c: ClientHandshake, s: ServerHandshake): { clientWrote: Uint8Array[]; serverWrote: Uint8Array[]; c: HandshakeStep; s: HandshakeStep } {
  const hello = c.start();
  const s1 = s.receive(hello);
  const c1 = c.receive(concat(s1.send));
  const s2 = s.receive(concat(c1.send));
  const c2 = c.receive(concat(s2.send));
  return { clientWrote: [hello, ...c1.send], serverWrote: [...s1.send, ...s2.send], c: c2, s: s2 };
}

describe('handshake', () => {
  it('authenticates both sides: the server learns the peer and channel, the client gets its welcome', () => {
    const r = exchange(client({ channel: 1 }), server());
    expect(r.s.done).toEqual({ peer: 1, channel: 1, rest: new Uint8Array(0) });
    expect(r.c.done).toEqual({ peer: 2, channel: 1, rest: new Uint8Array(0) });
    // Every handshake frame is far below the handshake frame limit.
    for (const f of [...r.clientWrote, ...r.serverWrote]) expect(f.byteLength).toBeLessThan(HANDSHAKE_MAX_FRAME_BYTES / 8);
  });

  it('works whatever the chunking, and hands over bytes that follow the last frame', () => {
    const c = client();
    const s = server();
    const hello = c.start();
    let step: HandshakeStep = { send: [], done: null };
    for (const byte of hello) step = s.receive(new Uint8Array([byte]));
    const c1 = c.receive(concat(step.send));
    const trailing = new Uint8Array([0, 0, 0, 1, 42]);
    const s2 = s.receive(concat([...c1.send, trailing]));
    expect(s2.done?.rest).toEqual(trailing);
  });

  it('client rejects a server that does not know the secret', () => {
    const c = client();
    const s = server({ secret: OTHER_SECRET });
    const challenge = s.receive(c.start());
    expect(codeOf(() => c.receive(concat(challenge.send)))).toBe('AUTH_FAILED');
  });

  it('server rejects a client that does not know the secret (even one that ignores the server proof)', () => {
    const s = server();
    const nonce = new Uint8Array(NONCE_BYTES).fill(1);
    s.receive(encodeHandshakeFrame({ kind: 'hello', version: HANDSHAKE_VERSION, clusterId: 'c1', from: 1, to: 2, channel: 0, nonce }));
    // The impostor answers with a proof computed from a guessed secret.
    const guessed = handshakeProof(OTHER_SECRET, 'client', { clusterId: 'c1', server: 2, client: 1, channel: 0, clientNonce: nonce, serverNonce: new Uint8Array(NONCE_BYTES).fill(100) });
    expect(codeOf(() => s.receive(encodeHandshakeFrame({ kind: 'response', proof: guessed })))).toBe('AUTH_FAILED');
    // With the right secret the same steps succeed: the failure was the secret alone.
    const s2 = server();
    s2.receive(encodeHandshakeFrame({ kind: 'hello', version: HANDSHAKE_VERSION, clusterId: 'c1', from: 1, to: 2, channel: 0, nonce }));
    const right = handshakeProof(SECRET, 'client', { clusterId: 'c1', server: 2, client: 1, channel: 0, clientNonce: nonce, serverNonce: new Uint8Array(NONCE_BYTES).fill(100) });
    expect(s2.receive(encodeHandshakeFrame({ kind: 'response', proof: right })).done?.peer).toBe(1);
  });

  it('a server proof cannot be reflected back as a client proof', () => {
    const s = server();
    const c = client();
    const challenge = s.receive(c.start());
    const serverProof = challenge.send[0]!.subarray(-32); // the proof is the frame's last field
    expect(codeOf(() => s.receive(encodeHandshakeFrame({ kind: 'response', proof: serverProof })))).toBe('AUTH_FAILED');
  });

  it('server rejects the wrong cluster id at hello; client rejects a server proof bound to another cluster', () => {
    expect(codeOf(() => server().receive(client({ clusterId: 'c2' }).start()))).toBe('AUTH_FAILED');
    // A server that ignored the cluster id (same secret) still cannot produce a proof the client accepts.
    const c = client();
    c.start();
    const proof = handshakeProof(SECRET, 'server', { clusterId: 'c2', server: 2, client: 1, channel: 0, clientNonce: new Uint8Array(NONCE_BYTES).fill(10), serverNonce: new Uint8Array(NONCE_BYTES).fill(7) });
    expect(codeOf(() => c.receive(encodeHandshakeFrame({ kind: 'challenge', nonce: new Uint8Array(NONCE_BYTES).fill(7), proof })))).toBe('AUTH_FAILED');
  });

  it('rejects wrong node ids: dialled the wrong node, an unknown or self-claimed client, a server that is another node', () => {
    expect(codeOf(() => server({ self: 3, peers: [1, 2] }).receive(client({ peer: 2 }).start()))).toBe('AUTH_FAILED');
    expect(codeOf(() => server({ peers: [3] }).receive(client({ self: 1 }).start()))).toBe('AUTH_FAILED');
    const selfClaim = encodeHandshakeFrame({ kind: 'hello', version: HANDSHAKE_VERSION, clusterId: 'c1', from: 2, to: 2, channel: 0, nonce: new Uint8Array(NONCE_BYTES) });
    expect(codeOf(() => server({ peers: [1, 2, 3] }).receive(selfClaim))).toBe('AUTH_FAILED');
    // The client expects node 2; node 3 answers with a genuine proof for itself: refused.
    const c = client({ peer: 2 });
    c.start();
    const nonce = new Uint8Array(NONCE_BYTES).fill(7);
    const proof = handshakeProof(SECRET, 'server', { clusterId: 'c1', server: 3, client: 1, channel: 0, clientNonce: new Uint8Array(NONCE_BYTES).fill(10), serverNonce: nonce });
    expect(codeOf(() => c.receive(encodeHandshakeFrame({ kind: 'challenge', nonce, proof })))).toBe('AUTH_FAILED');
  });

  it('a recorded client handshake replayed on a new connection is rejected (fresh server nonce)', () => {
    const first = exchange(client(), server({ seed: 100 }));
    expect(first.s.done?.peer).toBe(1);
    const replayServer = server({ seed: 101 });
    const [hello, response] = first.clientWrote;
    const challenge = replayServer.receive(hello!);
    expect(challenge.send).toHaveLength(1);
    expect(codeOf(() => replayServer.receive(response!))).toBe('AUTH_FAILED');
    // And a recorded server challenge does not fool a new client (fresh client nonce).
    const replayClient = client({ seed: 11 });
    replayClient.start();
    expect(codeOf(() => replayClient.receive(first.serverWrote[0]!))).toBe('AUTH_FAILED');
  });

  it('rejects garbage, out-of-order frames, other versions and oversized frames', () => {
    expect(codeOf(() => server().receive(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')))).toBe('MESSAGE_TOO_LARGE');
    expect(codeOf(() => server().receive(encodeFrame(new Uint8Array([0xc1]))))).toBe('PROTOCOL_ERROR');
    expect(codeOf(() => server().receive(encodeFrame(new Uint8Array(0))))).toBe('PROTOCOL_ERROR');
    expect(codeOf(() => server().receive(encodeHandshakeFrame({ kind: 'response', proof: new Uint8Array(32) })))).toBe('PROTOCOL_ERROR');
    expect(codeOf(() => server().receive(encodeHandshakeFrame({ kind: 'welcome' })))).toBe('PROTOCOL_ERROR');
    const later = new Packr({ useRecords: false }).pack([1, HANDSHAKE_VERSION + 1, 'c1', 1, 2, 0, new Uint8Array(32), 'new field']);
    expect(codeOf(() => server().receive(encodeFrame(later)))).toBe('PROTOCOL_ERROR');
    expect(codeOf(() => server().receive(encodeFrame(new Uint8Array(HANDSHAKE_MAX_FRAME_BYTES + 1))))).toBe('MESSAGE_TOO_LARGE');
    const c = client();
    c.start();
    expect(codeOf(() => c.receive(encodeHandshakeFrame({ kind: 'welcome' })))).toBe('PROTOCOL_ERROR');
  });

  it('a server that knows its channels refuses an unknown one at hello, before any proof', () => {
    const s = new ServerHandshake({ clusterId: 'c1', self: 2, secret: SECRET, isPeer: () => true, acceptsChannel: (c) => c < 2 });
    expect(codeOf(() => s.receive(client({ channel: 7 }).start()))).toBe('PROTOCOL_ERROR');
  });

  it('a failed machine stays failed', () => {
    const s = server();
    expect(codeOf(() => s.receive(new Uint8Array([0xff, 0xff, 0xff, 0xff])))).toBe('MESSAGE_TOO_LARGE');
    expect(codeOf(() => s.receive(client().start()))).toBe('INVARIANT');
  });

  it('truncated input waits for more (the socket deadline ends it) and explains a close', () => {
    const c = client();
    const s = server();
    const hello = c.start();
    expect(s.receive(hello.subarray(0, hello.byteLength - 1))).toEqual({ send: [], done: null });
    expect(c.closedByPeer().code).toBe('AUTH_FAILED');
    const challenge = s.receive(hello.subarray(hello.byteLength - 1));
    c.receive(concat(challenge.send));
    expect(c.closedByPeer().message).toMatch(/secret/);
  });

  it('refuses short secrets and bad ids up front', () => {
    expect(codeOf(() => client({ secret: new Uint8Array(15) }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => client({ peer: 1, self: 1 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => client({ clusterId: '' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => client({ channel: 256 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => server({ secret: new Uint8Array(3) }))).toBe('INVALID_ARGUMENT');
  });
});
