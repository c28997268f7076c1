/** Loopback fixtures for the TcpNetwork tests: networks on port 0, fake peers, waiting helpers. */
import net from 'node:net';
import { TcpNetwork, type TcpNetworkOptions } from '../../../src/net/tcp/tcp-network.ts';
import type { TcpLogEvent } from '../../../src/net/tcp/log-once.ts';
import { ClientHandshake, ServerHandshake } from '../../../src/net/tcp/handshake.ts';
import type { PeerAddress } from '../../../src/net/tcp/tls.ts';
import type { TcpTuning } from '../../../src/net/tcp/tcp-tuning.ts';
import { message, type Message, type NodeId } from '../../../src/raft/types.ts';

export const SECRET = new TextEncoder().encode('loopback test secret, 32 bytes..');
export const CLUSTER = 'test-cluster';
export const HOST = '127.0.0.1';

/**
 * Short reconnect timers so recoveries happen within a test's budget. The handshake deadline
 * stays generous (test files run in parallel and compete for the CPU); tests of the deadline
 * set their own.
 */
export const FAST_TUNING: Partial<TcpTuning> = { handshakeTimeoutMs: 2000, reconnectBaseMs: 10, reconnectMaxMs: 100 };

export interface TestNode {
  readonly id: NodeId;
  readonly network: TcpNetwork;
  readonly received: Message[];
  readonly logs: TcpLogEvent[];
}

/** Networks sharing one address book; `peers` is filled once every listener is bound. */
export class TestCluster {
  readonly peers = new Map<NodeId, PeerAddress>();
  readonly nodes = new Map<NodeId, TestNode>();

  async start(id: NodeId, overrides: Partial<TcpNetworkOptions> = {}, port = 0): Promise<TestNode> {
    const logs: TcpLogEvent[] = [];
    const network = await TcpNetwork.create({
      nodeId: id,
      clusterId: CLUSTER,
      listen: { host: HOST, port },
      peers: this.peers,
      secret: SECRET,
      log: (e) => logs.push(e),
      ...overrides,
      tuning: { ...FAST_TUNING, ...overrides.tuning },
    });
    const node: TestNode = { id, network, received: [], logs };
    network.register(id, (m) => node.received.push(m));
    this.peers.set(id, { host: HOST, port: network.port });
    this.nodes.set(id, node);
    return node;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.network.close()));
  }
}

export const heartbeat = (from: NodeId, to: NodeId, context = ''): Message => message({ type: 'heartbeat', from, to, term: 1, context });

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until true or the deadline; returns whether it became true. */
export async function until(cond: () => boolean, timeoutMs = 3000, stepMs = 5): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
  return true;
}

/** A raw TCP connection; resolves once connected. */
export function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: HOST, port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the socket closes, with how long that took. */
export function closed(socket: net.Socket): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed && socket.closed) resolve(0);
    socket.once('close', () => resolve(Date.now() - t0));
  });
}

/** A hand-driven client that completes the real handshake, then lets the test write raw bytes. */
export async function authenticatedClient(port: number, o: { self: NodeId; peer: NodeId; channel?: number; secret?: Uint8Array; clusterId?: string }): Promise<net.Socket> {
  const socket = await rawConnect(port);
  const hs = new ClientHandshake({ clusterId: o.clusterId ?? CLUSTER, self: o.self, peer: o.peer, channel: o.channel ?? 0, secret: o.secret ?? SECRET });
  socket.write(hs.start());
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      try {
        const step = hs.receive(chunk);
        for (const f of step.send) socket.write(f);
        if (step.done) {
          socket.off('data', onData);
          resolve();
        }
      } catch (e) {
        reject(e);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during handshake')));
  });
  return socket;
}

/**
 * A fake peer listening on loopback that completes the server handshake and then never reads
 * again (or, with `handshake: false`, never reads at all): the slowest possible peer.
 */
export async function stuckPeer(self: NodeId, opts: { handshake: boolean }): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (!opts.handshake) {
      socket.pause();
      return;
    }
    const hs = new ServerHandshake({ clusterId: CLUSTER, self, secret: SECRET, isPeer: () => true });
    const onData = (chunk: Buffer) => {
      const step = hs.receive(chunk);
      for (const f of step.send) socket.write(f);
      if (step.done) {
        socket.off('data', onData);
        socket.pause(); // from now on nothing is read: the kernel buffers fill, then the sender's
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen({ host: HOST, port: 0 }, r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not bound');
  return {
    port: address.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
