/**
 * The client port over TLS (ClientServer with `tls`, RemoteConnection with `tls`), against a
 * scripted ClientService: a client with a certificate from the cluster's CA is served, with
 * the HMAC handshake still inside; clear text, a certificate from another CA, and a client
 * trusting another CA are each refused with a typed error, logged once by the node, which
 * keeps serving. Certificates: the long-lived fixtures of the TCP transport's TLS tests.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteConnection } from '../../../src/client/remote-connection.ts';
import { connect } from '../../../src/client/connect.ts';
import { TesseraError } from '../../../src/errors.ts';
import { encodePreamble } from '../../../src/net/tcp/client-codec.ts';
import { CLIENT_PROTOCOL_VERSION, type ClientService } from '../../../src/net/tcp/client-protocol.ts';
import type { ClientLimits } from '../../../src/net/tcp/client-limits.ts';
import { ClientServer } from '../../../src/net/tcp/client-server.ts';
import type { TcpLogEvent } from '../../../src/net/tcp/log-once.ts';
import { checkTlsOptions, type TcpTlsOptions } from '../../../src/net/tcp/tls.ts';
import { ROGUE_CA_CERT, ROGUE_NODE_CERT, ROGUE_NODE_KEY, TRUSTED_CA_CERT, TRUSTED_NODE_CERT, TRUSTED_NODE_KEY } from './tls-fixtures.ts';

const HOST = '127.0.0.1';
const SECRET = new TextEncoder().encode('client server tls test secret...');
const CLUSTER = 'tls-test';
/** The cluster's CA, and a certificate it signed (used by the node and, as its own, by the client). */
const TRUSTED: TcpTlsOptions = { cert: TRUSTED_NODE_CERT, key: TRUSTED_NODE_KEY, ca: TRUSTED_CA_CERT };
/** Trusts the cluster's CA, but presents a certificate from another. */
const FOREIGN_CERT: TcpTlsOptions = { cert: ROGUE_NODE_CERT, key: ROGUE_NODE_KEY, ca: TRUSTED_CA_CERT };
/** Presents a good certificate, but trusts another CA only. */
const FOREIGN_CA: TcpTlsOptions = { cert: TRUSTED_NODE_CERT, key: TRUSTED_NODE_KEY, ca: ROGUE_CA_CERT };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Log lines may come a moment after the client saw its failure. */
async function eventually(cond: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(5);
  }
  return true;
}

function stubService(): ClientService {
  const refuse = () => Promise.reject(new TesseraError('INVALID_ARGUMENT', 'not in this test'));
  return {
    leaderHint: () => 1,
    propose: refuse,
    readBarrier: async () => 7,
    leaseReadBarrier: refuse,
    get: refuse,
    range: refuse,
    events: refuse,
    readTable: refuse,
    waitApplied: async (after: number) => after,
    status: async () => ({ id: 1, clusterId: CLUSTER, role: 'leader', term: 1, leader: 1, commit: 7, applied: 7, lastIndex: 7, members: [], progress: [] }),
  };
}

const servers: ClientServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(tls: TcpTlsOptions | undefined, logs: TcpLogEvent[], limits: Partial<ClientLimits> = {}): Promise<ClientServer> {
  const server = await ClientServer.create({
    nodeId: 1,
    clusterId: CLUSTER,
    secret: SECRET,
    listen: { host: HOST, port: 0 },
    service: stubService(),
    adoptPeer: null,
    log: (e) => logs.push(e),
    limits: { handshakeTimeoutMs: 2000, ...limits },
    ...(tls && { tls }),
  });
  servers.push(server);
  return server;
}

function open(port: number, tls: TcpTlsOptions | undefined, secret = SECRET): Promise<RemoteConnection> {
  return RemoteConnection.open({ address: { host: HOST, port }, clusterId: CLUSTER, secret, handshakeTimeoutMs: 2000, ...(tls && { tls }) });
}

/** A TCP connection that says nothing; `closed` resolves when the node hangs up. */
async function rawSocket(port: number): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: HOST, port });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, closed };
}

/** Still serving a good client after whatever the test did. */
async function expectServing(port: number): Promise<void> {
  const c = await open(port, TRUSTED);
  try {
    expect(await c.request('readBarrier', [])).toBe(7);
  } finally {
    c.close();
  }
}

describe('the client port over TLS', () => {
  it('serves a client with a certificate from the CA; the secret handshake still runs inside', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs);
    const c = await open(server.port, TRUSTED);
    expect(c.nodeId).toBe(1);
    expect(await c.request('readBarrier', [])).toBe(7);
    c.close();
    // TLS alone does not let a client in: it must still know the cluster secret.
    await expect(open(server.port, TRUSTED, new TextEncoder().encode('not the cluster secret, 32 bytes'))).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(await eventually(() => logs.some((l) => l.code === 'AUTH_FAILED' && l.message.includes('failed to prove the cluster secret')))).toBe(true);
    expect(logs.filter((l) => /TLS/.test(l.message))).toEqual([]);
  });

  it('drops a clear-text client: a typed error for it, one log line for the node, which keeps serving', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs);
    for (let i = 0; i < 3; i++) {
      const refused = await open(server.port, undefined).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TesseraError);
      expect(refused).toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('requires TLS') });
    }
    expect(await eventually(() => logs.length >= 1)).toBe(true);
    await sleep(50); // room for a second line, which must not come
    expect(logs.map((l) => [l.code, /TLS handshake failed/.test(l.message)])).toEqual([['AUTH_FAILED', true]]);
    await expectServing(server.port);
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs);
    await expect(open(server.port, FOREIGN_CERT)).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('refused our certificate') });
    expect(await eventually(() => logs.some((l) => l.code === 'AUTH_FAILED' && /TLS handshake failed/.test(l.message)))).toBe(true);
    await expectServing(server.port);
  });

  it('a client trusting another CA refuses the node', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs);
    await expect(open(server.port, FOREIGN_CA)).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringMatching(/TLS handshake with .* failed: self[- ]signed certificate/) });
    await expectServing(server.port);
  });

  it('a TLS client calling a clear-text node is refused, and the node says why', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(undefined, logs);
    await expect(open(server.port, TRUSTED)).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('TLS handshake') });
    expect(await eventually(() => logs.some((l) => l.code === 'PROTOCOL_ERROR' && l.message.includes('a TLS client called this port')))).toBe(true);
    const c = await open(server.port, undefined);
    expect(await c.request('readBarrier', [])).toBe(7);
    c.close();
  });

  it('a TLS port never reads a first frame in the clear, not even a valid preamble', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs);
    const s = net.connect({ host: HOST, port: server.port });
    s.on('error', () => {});
    s.write(encodePreamble(CLIENT_PROTOCOL_VERSION, CLUSTER));
    await new Promise<void>((r) => s.once('close', () => r()));
    expect(server.stats()).toMatchObject({ clientConnections: 0, pendingConnections: 0, refusedConnections: 0 });
    expect(await eventually(() => logs.some((l) => l.code === 'AUTH_FAILED'))).toBe(true);
  });

  it('bounds connections still in their TLS handshake, as those before their first frame', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs, { maxPendingConnections: 2 });
    // Two callers that never start TLS hold both places.
    const idle = await Promise.all([rawSocket(server.port), rawSocket(server.port)]);
    expect(await eventually(() => server.stats().pendingConnections === 2)).toBe(true);
    const third = await rawSocket(server.port);
    await third.closed;
    expect(server.stats().refusedConnections).toBe(1);
    expect(logs.some((l) => l.code === 'CLOSED' && l.message.includes('too many connections before their first frame'))).toBe(true);
    await expect(open(server.port, TRUSTED)).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    // A place freed is a place taken.
    idle[0]!.socket.destroy();
    expect(await eventually(() => server.stats().pendingConnections === 1)).toBe(true);
    await expectServing(server.port);
    idle[1]!.socket.destroy();
  });

  it('closes a caller that never starts TLS, or never speaks inside it, at the handshake deadline', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(TRUSTED, logs, { handshakeTimeoutMs: 300 });
    const silent = await rawSocket(server.port);
    await silent.closed;
    expect(await eventually(() => server.stats().pendingConnections === 0)).toBe(true);
    expect(logs.map((l) => [l.code, l.message])).toEqual([['TIMEOUT', expect.stringContaining('TLS handshake failed: TLS handshake timeout')]]);
    // TLS done, then nothing: no first frame. (Another node: logs are once per address and code.)
    const moreLogs: TcpLogEvent[] = [];
    const other = await serve(TRUSTED, moreLogs, { handshakeTimeoutMs: 300 });
    const mute = tls.connect({ host: HOST, port: other.port, ca: TRUSTED_CA_CERT, cert: TRUSTED_NODE_CERT, key: TRUSTED_NODE_KEY });
    mute.on('error', () => {});
    await new Promise<void>((r) => mute.once('close', () => r()));
    expect(await eventually(() => moreLogs.some((l) => l.code === 'TIMEOUT' && l.message.includes('no first frame')))).toBe(true);
    expect(other.stats().pendingConnections).toBe(0);
  });

  it('refuses unusable TLS options before listening or dialling', async () => {
    const logs: TcpLogEvent[] = [];
    const mismatched: TcpTlsOptions = { cert: TRUSTED_NODE_CERT, key: ROGUE_NODE_KEY, ca: TRUSTED_CA_CERT };
    await expect(serve(mismatched, logs)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => checkTlsOptions({ ...TRUSTED, cert: 'not a certificate' })).toThrow(/INVALID_ARGUMENT/);
    expect(() => checkTlsOptions({ ...TRUSTED, ca: [] })).toThrow(/at least one CA/);
    expect(() => checkTlsOptions({ ...TRUSTED, ca: 'not a certificate' })).toThrow(/the CA is not a PEM certificate/);
    // From untyped callers: a missing key is named, not left to a TypeError.
    const partial = { ca: TRUSTED_CA_CERT, cert: TRUSTED_NODE_CERT } as unknown as TcpTlsOptions;
    await expect(connect({ endpoints: [`${HOST}:1`], secret: SECRET, tls: partial })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('key is required') });
  });
});
