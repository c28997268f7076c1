/**
 * RemoteEndpoint against a ClientServer over loopback, with a scripted ClientService instead of
 * a node: values and error codes cross intact, the leader hint rides on every answer, the
 * connection's failures map to CLOSED and back to up, and the node's bounds hold (in-flight,
 * deadline, frame size, handshake deadline, connections before their first frame) against
 * well-behaved and hostile clients alike.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteConnection } from '../../src/client/remote-connection.ts';
import { RemoteEndpoint } from '../../src/client/remote-endpoint.ts';
import { TesseraError } from '../../src/errors.ts';
import { decodeResponse, encodePreamble, errorFromWire } from '../../src/net/tcp/client-codec.ts';
import type { ClientLimits } from '../../src/net/tcp/client-limits.ts';
import { CLIENT_CHANNEL, CLIENT_PRINCIPAL_ID, MAX_CLIENT_FRAME_BYTES, type ClientService } from '../../src/net/tcp/client-protocol.ts';
import { ClientServer } from '../../src/net/tcp/client-server.ts';
import { encodeFrame, FrameDecoder } from '../../src/net/tcp/frame.ts';
import { ServerHandshake } from '../../src/net/tcp/handshake.ts';
import type { TcpLogEvent } from '../../src/net/tcp/log-once.ts';
import type { KvRecord } from '../../src/store/kv-command.ts';

const HOST = '127.0.0.1';
const SECRET = new TextEncoder().encode('remote endpoint test secret.....');
const CLUSTER = 'remote-test';
const FAST_RECONNECT = { minMs: 5, maxMs: 50 };

const never = <T>() => new Promise<T>(() => {});
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const RECORD: KvRecord = { value: new Uint8Array([1, 2, 3]), createRevision: 4, modRevision: 5, version: 2 };

/** A node stand-in: every call answers something fixed, or what the test put in `override`. */
function stubService(over: Partial<ClientService> = {}): ClientService & { leader: number } {
  const s: ClientService & { leader: number } = {
    leader: 1,
    leaderHint: (): number => s.leader,
    propose: async () => ({ ok: true as const, revision: 7, prev: null }),
    readBarrier: async () => 7,
    leaseReadBarrier: async () => 7,
    get: async () => RECORD,
    range: async () => ({ records: [{ key: new Uint8Array([9]), record: RECORD }], more: false, after: null }),
    events: async () => [],
    readTable: async () => new Uint8Array([42]),
    waitApplied: async (after: number) => after + 1,
    status: async () => ({ id: 1, clusterId: CLUSTER, role: 'leader', term: 1, leader: 1, commit: 7, applied: 7, lastIndex: 7, members: [], progress: [] }),
    ...over,
  };
  return s;
}

const servers: ClientServer[] = [];
const endpoints: RemoteEndpoint[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) e.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(service: ClientService, o: { port?: number; limits?: Partial<ClientLimits>; logs?: TcpLogEvent[]; nodeId?: number } = {}): Promise<ClientServer> {
  const server = await ClientServer.create({
    nodeId: o.nodeId ?? 1,
    clusterId: CLUSTER,
    secret: SECRET,
    listen: { host: HOST, port: o.port ?? 0 },
    service,
    adoptPeer: null,
    log: (e) => o.logs?.push(e),
    ...(o.limits && { limits: o.limits }),
  });
  servers.push(server);
  return server;
}

function endpoint(port: number, id = 1, secret = SECRET): RemoteEndpoint {
  const e = new RemoteEndpoint(id, { host: HOST, port }, { clusterId: CLUSTER, secret, reconnect: FAST_RECONNECT, handshakeTimeoutMs: 2000 });
  endpoints.push(e);
  return e;
}

async function upEndpoint(port: number, id = 1): Promise<RemoteEndpoint> {
  const e = endpoint(port, id);
  await until(() => e.isUp());
  return e;
}

/** A raw socket that completes the client preamble and handshake, then lets the test write anything. */
async function rawClient(port: number): Promise<{ socket: net.Socket; frames: Uint8Array[]; closed: Promise<void> }> {
  const socket = net.connect({ host: HOST, port });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => {});
  const hs = new ServerHandshake({ clusterId: CLUSTER, self: CLIENT_PRINCIPAL_ID, secret: SECRET, isPeer: () => true, acceptsChannel: (c) => c === CLIENT_CHANNEL });
  const frames: Uint8Array[] = [];
  const decoder = new FrameDecoder(MAX_CLIENT_FRAME_BYTES);
  await new Promise<void>((resolve, reject) => {
    let done = false;
    socket.once('connect', () => socket.write(encodePreamble(1, CLUSTER)));
    socket.on('data', (chunk: Buffer) => {
      if (done) {
        decoder.push(chunk);
        for (let p = decoder.next(); p !== null; p = decoder.next()) frames.push(p);
        return;
      }
      const step = hs.receive(chunk);
      for (const f of step.send) socket.write(f);
      if (step.done) {
        done = true;
        resolve();
      }
    });
    socket.once('close', () => reject(new Error('closed during handshake')));
  });
  return { socket, frames, closed };
}

describe('RemoteEndpoint over a ClientServer', () => {
  it('carries values exactly, keeps error codes and leader hints, and learns the leader from every answer', async () => {
    const service = stubService({
      propose: async () => {
        throw new TesseraError('NOT_LEADER', 'node 1 is not the leader', { leaderHint: 3 });
      },
    });
    const server = await serve(service);
    const ep = await upEndpoint(server.port);
    expect(ep.leaderHint()).toBe(0); // nothing answered yet
    const rec = await ep.get(new Uint8Array([9]));
    expect(rec).toStrictEqual(RECORD);
    expect(rec!.value.constructor).toBe(Uint8Array);
    expect(ep.leaderHint()).toBe(1);
    service.leader = 3;
    const err = await ep.propose(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: 'NOT_LEADER', leaderHint: 3 });
    expect(ep.leaderHint()).toBe(3);
    expect((await ep.range(new Uint8Array(), null, { limit: 5 })).records[0]!.record).toStrictEqual(RECORD);
    expect(await ep.readTable('chunks', new Uint8Array([1]))).toStrictEqual(new Uint8Array([42]));
    expect(await ep.waitApplied(10, 100.7)).toBe(11); // fractional timeouts are rounded for the wire
    expect((await ep.status()).clusterId).toBe(CLUSTER);
  });

  it('is down while the node is, answers CLOSED (waitApplied: 0), fails calls in flight, and comes back', async () => {
    let hang = false;
    const service = stubService({ readBarrier: () => (hang ? never<number>() : Promise.resolve(3)) });
    const server = await serve(service);
    const port = server.port;
    const ep = await upEndpoint(port);
    hang = true;
    const inFlight = ep.readBarrier().catch((e: unknown) => e);
    await sleep(20);
    servers.splice(servers.indexOf(server), 1);
    await server.close();
    expect(await inFlight).toMatchObject({ code: 'CLOSED' });
    expect(ep.isUp()).toBe(false);
    await expect(ep.get(new Uint8Array([1]))).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await ep.waitApplied(0, 50)).toBe(0);
    expect(ep.lastError?.code).toBe('CLOSED');
    hang = false;
    await serve(service, { port });
    await until(() => ep.isUp());
    expect(await ep.readBarrier()).toBe(3);
  });

  it('refuses a wrong secret, a wrong cluster and another node than expected, with AUTH_FAILED', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(stubService(), { logs, nodeId: 2 });
    const open = (o: { secret?: Uint8Array; clusterId?: string; expectedId?: number }) =>
      RemoteConnection.open({ address: { host: HOST, port: server.port }, clusterId: o.clusterId ?? CLUSTER, secret: o.secret ?? SECRET, handshakeTimeoutMs: 2000, ...(o.expectedId && { expectedId: o.expectedId }) });
    await expect(open({ secret: new TextEncoder().encode('another secret of 32 bytes......') })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(open({ clusterId: 'other' })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await expect(open({ expectedId: 1 })).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('is node 2, not node 1') });
    const ok = await open({ expectedId: 2 });
    expect(ok.nodeId).toBe(2);
    ok.close();
    await until(() => logs.length >= 2);
    expect(logs.map((l) => l.code)).toEqual(expect.arrayContaining(['AUTH_FAILED']));
    expect(logs.some((l) => l.message.includes('the client failed to prove the cluster secret'))).toBe(true);
  });

  it('bounds requests in flight (OVERLOADED), per request (TIMEOUT) and in size (MESSAGE_TOO_LARGE)', async () => {
    const service = stubService({ readBarrier: () => never<number>(), readTable: async () => new Uint8Array(MAX_CLIENT_FRAME_BYTES + 1) });
    const server = await serve(service, { limits: { maxInflightRequests: 2, requestDeadlineMs: 300 } });
    const ep = await upEndpoint(server.port);
    const calls = [ep.readBarrier(), ep.readBarrier(), ep.readBarrier()].map((p) => p.catch((e: unknown) => e));
    expect(await calls[2]).toMatchObject({ code: 'OVERLOADED' });
    expect(await calls[0]).toMatchObject({ code: 'TIMEOUT' });
    expect(await calls[1]).toMatchObject({ code: 'TIMEOUT' });
    await expect(ep.readTable('chunks', new Uint8Array([1]))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await expect(ep.propose(new Uint8Array(MAX_CLIENT_FRAME_BYTES))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(await ep.get(new Uint8Array([1]))).toStrictEqual(RECORD); // the connection survived all of it
    expect(server.stats().refusedRequests).toBe(1);
  });

  it('a frame past the node’s limit ends the connection; the endpoint redials', async () => {
    const server = await serve(stubService(), { limits: { maxFrameBytes: 1024 } });
    const ep = await upEndpoint(server.port);
    await expect(ep.propose(new Uint8Array(2000))).rejects.toMatchObject({ code: 'CLOSED', message: expect.stringContaining('MESSAGE_TOO_LARGE') });
    await until(() => ep.isUp());
    expect(await ep.readBarrier()).toBe(7);
  });
});

describe('ClientServer against hostile connections', () => {
  it('survives garbage before and after authentication, and answers the next client', async () => {
    const logs: TcpLogEvent[] = [];
    const server = await serve(stubService(), { logs });
    for (const garbage of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]), Buffer.alloc(64, 0xff)]) {
      const s = net.connect({ host: HOST, port: server.port });
      s.on('error', () => {});
      s.write(garbage);
      await new Promise<void>((r) => s.once('close', () => r()));
    }
    // Authenticated, then a frame that is not a request: a PROTOCOL_ERROR goodbye, then close.
    const raw = await rawClient(server.port);
    raw.socket.write(encodeFrame(new Uint8Array([0x93, 1, 2, 3])));
    await raw.closed;
    expect(raw.frames).toHaveLength(1);
    const bye = decodeResponse(raw.frames[0]!);
    expect(bye.id).toBe(0);
    if (bye.ok) throw new Error('expected an error');
    expect(errorFromWire(bye.error).code).toBe('PROTOCOL_ERROR');
    const ep = await upEndpoint(server.port);
    expect(await ep.readBarrier()).toBe(7);
    expect(logs.some((l) => l.code === 'PROTOCOL_ERROR' || l.code === 'MESSAGE_TOO_LARGE')).toBe(true);
  });

  it('drops connections that say nothing, and refuses them past the pending bound', async () => {
    const server = await serve(stubService(), { limits: { handshakeTimeoutMs: 150, maxPendingConnections: 2 } });
    const open = () => {
      const s = net.connect({ host: HOST, port: server.port });
      s.on('error', () => {});
      return { s, closed: new Promise<number>((r) => s.once('close', () => r(Date.now()))) };
    };
    const t0 = Date.now();
    const [a, b] = [open(), open()];
    await until(() => server.stats().pendingConnections === 2);
    const c = open();
    expect((await c.closed) - t0).toBeLessThan(150); // refused at once
    expect((await a.closed) - t0).toBeGreaterThanOrEqual(140); // timed out
    await b.closed;
    expect(server.stats()).toMatchObject({ pendingConnections: 0, refusedConnections: 1 });
  });
});
