/**
 * Servers of one cluster in this process, on loopback ports picked by the OS: each binds port 0,
 * and the shared address book is filled in as they come up (TcpNetwork and Server read it at
 * use). A stopped server restarts on its old port, so its peers' book stays right.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server, type ServerOptions } from '../../src/cluster/server.ts';
import type { PeerAddress } from '../../src/net/tcp/tls.ts';
import type { NodeId } from '../../src/raft/types.ts';

export const HOST = '127.0.0.1';
export const SECRET = new TextEncoder().encode('server test secret, 32 bytes....');
export const CLUSTER_ID = 'server-test';
/** Elections in ~200-400 ms; quick redials after a peer restarts. */
export const SERVER_TUNING = Object.freeze({ tickMs: 20 });
export const SERVER_TCP_TUNING = Object.freeze({ reconnectBaseMs: 10, reconnectMaxMs: 100, handshakeTimeoutMs: 2000 });

export class ServerSet {
  readonly peers = new Map<NodeId, PeerAddress>();
  readonly servers = new Map<NodeId, Server>();
  readonly ids: readonly NodeId[];

  private constructor(
    readonly dir: string,
    n: number,
    private readonly overrides: Partial<ServerOptions>,
  ) {
    this.ids = Array.from({ length: n }, (_, i) => i + 1);
  }

  static async start(n = 3, overrides: Partial<ServerOptions> = {}): Promise<ServerSet> {
    const set = new ServerSet(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-server-')), n, overrides);
    try {
      await Promise.all(set.ids.map((id) => set.startNode(id)));
    } catch (e) {
      await set.close();
      throw e;
    }
    return set;
  }

  /** `host:port` of every node, for connect(). */
  get endpoints(): string[] {
    return this.ids.map((id) => `${HOST}:${this.peers.get(id)!.port}`);
  }

  async startNode(id: NodeId): Promise<Server> {
    const server = await Server.start({
      ...SERVER_TUNING,
      id,
      dir: path.join(this.dir, `n${id}`),
      clusterId: CLUSTER_ID,
      secret: SECRET,
      listen: { host: HOST, port: this.peers.get(id)?.port ?? 0 },
      peers: this.peers,
      voters: this.ids,
      tcpTuning: SERVER_TCP_TUNING,
      ...this.overrides,
    });
    this.peers.set(id, { host: HOST, port: server.port });
    this.servers.set(id, server);
    return server;
  }

  async stopNode(id: NodeId): Promise<void> {
    const s = this.servers.get(id);
    this.servers.delete(id);
    await s?.close();
  }

  /** The leader (highest term among those that think they lead), 0 if none. */
  leader(): NodeId {
    let best = 0;
    let term = -1;
    for (const s of this.servers.values()) {
      if (!s.node.isLeader()) continue;
      const t = s.node.status().term;
      if (t > term) [best, term] = [s.id, t];
    }
    return best;
  }

  async waitForLeader(timeoutMs = 10_000): Promise<NodeId> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = this.leader();
      if (l !== 0) return l;
      if (Date.now() > end) throw new Error(`no leader within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.servers.values()].map((s) => s.close()));
    this.servers.clear();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
