/**
 * N durable nodes in one process: real LMDB under `<dir>/node-<id>`, real timers, and the
 * in-process network. The embedding API of DESIGN.md:
 *
 *   const cluster = await Cluster.start({ nodes: 3, dir: './data' });
 *   const kv = cluster.client();
 *   await kv.put('k', 'v');
 *   await cluster.stopNode(2); await cluster.startNode(2); await cluster.close();
 *
 * `<dir>/cluster.json` records the cluster id and size; restarting from the same directory
 * brings back every node with its data, and a directory of another cluster, or of another
 * size, is refused (IDENTITY_MISMATCH). Nodes are numbered 1..N.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, CLIENT_DEFAULTS } from '../client/client.ts';
import type { Endpoint } from '../client/endpoint.ts';
import type { ClientOptions } from '../client/types.ts';
import { TesseraError } from '../errors.ts';
import { InProcessNetwork } from '../net/in-process-transport.ts';
import type { NodeId } from '../raft/types.ts';
import { makeDataDirectory } from '../store/lmdb-env.ts';
import { checkClusterId } from '../util/cluster-id.ts';
import { checkClusterManifest, readClusterManifest, refuseOtherKind, writeClusterManifest } from './identity.ts';
import { LocalEndpoint } from './local-endpoint.ts';
import { Node } from './node.ts';
import { checkTuning, DEFAULT_TUNING, maxElectionTimeoutMs, type NodeTuning } from './tuning.ts';

export interface ClusterOptions extends NodeTuning {
  /** Number of nodes (voters), 1..MAX_CLUSTER_NODES. */
  readonly nodes: number;
  readonly dir: string;
  /** Required to match when `dir` already holds a cluster; a random UUID for a new one if omitted. */
  readonly clusterId?: string;
  /** A node stopped on its own (storage failure, corruption). Default: a process warning. */
  readonly onNodeFailure?: (id: NodeId, error: Error) => void;
}

export const MAX_CLUSTER_NODES = 15;
/**
 * Lease reads are on by default here: the nodes share one process, hence one clock. A lease
 * needs a few ticks of slack, so a tiny electionTick leaves them off.
 */
const IN_PROCESS_LEASE = Object.freeze({ maxClockDrift: 0.05 });

function defaultLease(t: NodeTuning): typeof IN_PROCESS_LEASE | null {
  return (t.electionTick ?? DEFAULT_TUNING.electionTick) >= 5 ? IN_PROCESS_LEASE : null;
}

interface Slot {
  readonly id: NodeId;
  node: Node | null;
  /** Serializes stop/start of this node. */
  busy: Promise<void>;
}

export class Cluster {
  readonly ids: readonly NodeId[];
  private readonly network = new InProcessNetwork();
  private readonly slots = new Map<NodeId, Slot>();
  private readonly localEndpoints: readonly LocalEndpoint[];
  private readonly clients = new Set<Client>();
  private closing: Promise<void> | null = null;

  private constructor(
    readonly id: string,
    readonly dir: string,
    private readonly options: ClusterOptions,
  ) {
    this.ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    for (const id of this.ids) this.slots.set(id, { id, node: null, busy: Promise.resolve() });
    this.localEndpoints = this.ids.map((id) => new LocalEndpoint(id, () => this.slots.get(id)?.node ?? null));
  }

  /** Opens (creating on first use) every node's stores under `dir` and starts them all. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const { nodes, dir } = options;
    if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > MAX_CLUSTER_NODES) {
      throw new TesseraError('INVALID_ARGUMENT', `nodes must be an integer in 1..${MAX_CLUSTER_NODES}, got ${nodes}`);
    }
    if (options.clusterId !== undefined) checkClusterId(options.clusterId);
    checkTuning(options);
    makeDataDirectory(dir);
    refuseOtherKind(dir, 'cluster');
    const manifest = readClusterManifest(dir);
    if (manifest) checkClusterManifest(dir, manifest, { nodes, ...(options.clusterId !== undefined && { clusterId: options.clusterId }) });
    const clusterId = manifest?.clusterId ?? options.clusterId ?? randomUUID();
    if (!manifest) writeClusterManifest(dir, { clusterId, nodes });
    const cluster = new Cluster(clusterId, dir, options);
    try {
      for (const id of cluster.ids) await cluster.startNode(id);
    } catch (e) {
      await cluster.close().catch(() => {});
      throw e;
    }
    return cluster;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** A client of this cluster, with timeouts scaled to its election timeout unless given. */
  client(options: ClientOptions = {}): Client {
    this.check();
    const electionMs = maxElectionTimeoutMs(this.options);
    const tickMs = this.options.tickMs ?? DEFAULT_TUNING.tickMs;
    const attemptTimeoutMs = Math.max(1000, electionMs);
    const client = new Client(this.localEndpoints, {
      attemptTimeoutMs,
      timeoutMs: Math.max(CLIENT_DEFAULTS.timeoutMs, 4 * attemptTimeoutMs),
      backoff: { minMs: Math.max(1, tickMs / 2), maxMs: Math.max(20, electionMs / 2) },
      watchIdleMs: Math.max(50, electionMs / 2),
      ...options,
    });
    this.clients.add(client);
    return client;
  }

  /**
   * One client Endpoint per node, stable across stopNode/startNode: for clients built by hand
   * (new Client(cluster.endpoints, options)), or wrapped to inject faults in tests.
   */
  get endpoints(): readonly Endpoint[] {
    this.check();
    return this.localEndpoints;
  }

  /** The running node with this id, or null while it is stopped. */
  node(id: NodeId): Node | null {
    this.check();
    return this.slot(id).node;
  }

  isUp(id: NodeId): boolean {
    this.check();
    return this.slot(id).node?.isUp ?? false;
  }

  /** Stops one node cleanly (its pending requests fail with CLOSED) and closes its stores. */
  async stopNode(id: NodeId): Promise<void> {
    this.check();
    return this.serialize(this.slot(id), async (slot) => {
      const node = slot.node;
      slot.node = null;
      await node?.close();
    });
  }

  /** Reopens a stopped node from its directory (a no-op if it is running). */
  async startNode(id: NodeId): Promise<void> {
    this.check();
    return this.serialize(this.slot(id), async (slot) => {
      if (slot.node?.isUp) return;
      if (slot.node) await slot.node.close(); // failed: close before reopening
      slot.node = null;
      slot.node = await Node.open({
        ...this.options,
        leaseReads: this.options.leaseReads === undefined ? defaultLease(this.options) : this.options.leaseReads,
        id,
        dir: path.join(this.dir, `node-${id}`),
        peers: this.ids,
        transport: this.network,
        clusterId: this.id,
        onFatal: (e) => (this.options.onNodeFailure ?? defaultFailure)(id, e),
      });
    });
  }

  /** The node that leads (the highest term wins if a deposed leader has not noticed yet), or 0. */
  leader(): NodeId {
    this.check();
    let best: NodeId = 0;
    let bestTerm = -1;
    for (const slot of this.slots.values()) {
      const n = slot.node;
      if (!n?.isLeader()) continue;
      const term = n.status().term;
      if (term > bestTerm) {
        best = n.id;
        bestTerm = term;
      }
    }
    return best;
  }

  /** Resolves with the leader once there is one; TIMEOUT after timeoutMs. */
  async waitForLeader(timeoutMs = 10 * maxElectionTimeoutMs(this.options)): Promise<NodeId> {
    const deadline = performance.now() + timeoutMs;
    const pollMs = Math.max(1, Math.min(50, (this.options.tickMs ?? DEFAULT_TUNING.tickMs) / 2));
    for (;;) {
      const id = this.leader();
      if (id !== 0) return id;
      if (performance.now() >= deadline) throw new TesseraError('TIMEOUT', `no leader elected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Closes every client and node. Idempotent; every later call fails with CLOSED. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const c of this.clients) void c.close();
      this.clients.clear();
      const results = await Promise.allSettled(
        [...this.slots.values()].map((slot) =>
          this.serialize(slot, async (s) => {
            const node = s.node;
            s.node = null;
            await node?.close();
          }),
        ),
      );
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    })();
    return this.closing;
  }

  private serialize(slot: Slot, job: (slot: Slot) => Promise<void>): Promise<void> {
    const run = slot.busy.then(() => job(slot));
    slot.busy = run.catch(() => {});
    return run;
  }

  private slot(id: NodeId): Slot {
    const s = this.slots.get(id);
    if (!s) throw new TesseraError('INVALID_ARGUMENT', `no node ${id} in this cluster (nodes are ${this.ids.join(', ')})`);
    return s;
  }

  private check(): void {
    if (this.closing) throw new TesseraError('CLOSED', 'cluster is closed');
  }
}

function defaultFailure(id: NodeId, error: Error): void {
  process.emitWarning(`tessera: node ${id} stopped: ${error.message}`, { code: 'TESSERA_NODE_FAILURE' });
}
