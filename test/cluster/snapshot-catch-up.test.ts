/**
 * A follower that missed thousands of compacted entries catches up through a streamed
 * snapshot, and the stream never holds the image whole.
 *
 * Three durable nodes (Node.open on LMDB, one in-process network, a Client over LocalEndpoints:
 * what Cluster does, built by hand because Node.open takes a NodeObserver and ClusterOptions
 * has no such field). One follower is stopped, 10,000 keys of 800 bytes are written through
 * the client, the leader compacts its log past the follower, the follower restarts and must
 * install a snapshot, then a local read on it returns every key.
 *
 * Memory during the catch-up, against a baseline taken just before the restart:
 * - every 2 ms, process.memoryUsage() (rss, heapUsed, external): the raw peaks, garbage
 *   included; heapUsed and external must each stay below the image's size. (Timers run between
 *   macrotasks, and the transfer keeps the one event loop busy: the samples actually taken
 *   are counted and printed.)
 * - every 50 ms, after full collections, heapUsed + arrayBuffers: the live peak, what the
 *   process really holds; must stay below a quarter of the image.
 * The collections are part of the method: left alone, V8 lets the young generation fill
 * (16 MiB) and dead chunk buffers pile up in `external` before it collects, so the raw peaks
 * would measure the collector's schedule (they reach the size of this image) rather than what
 * the transfer holds (about 1 MiB). rss is printed, not bounded: it counts the pages of the LMDB
 * maps the follower writes and the leader reads (file-backed, reclaimable), which grow with
 * the state by design.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../src/client/client.ts';
import { LocalEndpoint } from '../../src/cluster/local-endpoint.ts';
import { Node } from '../../src/cluster/node.ts';
import { InProcessNetwork } from '../../src/net/in-process-transport.ts';
import type { RaftNode } from '../../src/node/raft-node.ts';
import type { NodeId, Snapshot } from '../../src/raft/types.ts';
import { utf8 } from '../../src/util/bytes.ts';
import { firstLogIndex } from './node-log.ts';
import { FAST, sleep, tempDir } from './harness.ts';

const KEYS = 10_000;
const VALUE_BYTES = 800;
const SNAPSHOT_EVERY = 1000;
const CHUNK_BYTES = 64 * 1024;
const WRITERS = 64;
const SAMPLE_MS = 2;
const LIVE_SAMPLE_MS = 50;

const key = (i: number): string => `key/${String(i).padStart(5, '0')}`;
const value = (i: number): string => `v${i}:`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26)));

/** gc(), without --expose-gc on the command line: the flag can be set at run time and vm hands the function out. */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') throw new Error('could not obtain gc()');
  return gc as () => void;
}


/** Three durable nodes as Cluster builds them, plus a snapshotInstalled observer per node. */
class ObservedCluster {
  readonly ids: readonly NodeId[] = [1, 2, 3];
  readonly installed = new Map<NodeId, Snapshot[]>(this.ids.map((id) => [id, []]));
  readonly failures: Error[] = [];
  /** Every node that became leader, and in which term. */
  readonly elections: { node: NodeId; term: number }[] = [];
  private readonly network = new InProcessNetwork();
  private readonly nodes = new Map<NodeId, Node | null>();
  private readonly endpoints: readonly LocalEndpoint[];
  private readonly clients: Client[] = [];

  constructor(readonly dir: string) {
    this.endpoints = this.ids.map((id) => new LocalEndpoint(id, () => this.nodes.get(id) ?? null));
  }

  async start(id: NodeId): Promise<Node> {
    const node = await Node.open({
      ...FAST,
      // Elections after 300-600 ms rather than 100-200: the three nodes share one event loop,
      // which the forced collections below pause for tens of ms, and a leader change aborts the
      // snapshot stream (the next leader starts a new one from its first byte).
      electionTick: 30,
      id,
      dir: path.join(this.dir, `node-${id}`),
      peers: this.ids,
      transport: this.network,
      clusterId: 'catch-up',
      snapshotEvery: SNAPSHOT_EVERY,
      snapshotChunkBytes: CHUNK_BYTES,
      onFatal: (e) => this.failures.push(e),
      observer: {
        snapshotInstalled: (n, snap) => this.installed.get(n)!.push(snap),
        roleChanged: (n, soft, term) => {
          if (soft.role === 'leader') this.elections.push({ node: n, term });
        },
      },
    });
    this.nodes.set(id, node);
    return node;
  }

  async stop(id: NodeId): Promise<void> {
    const node = this.nodes.get(id);
    this.nodes.set(id, null);
    await node?.close();
  }

  node(id: NodeId): Node {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`node ${id} is down`);
    return n;
  }

  leader(): NodeId {
    for (const n of this.nodes.values()) if (n?.isLeader()) return n.id;
    return 0;
  }

  /** Timeouts as Cluster.client() scales them for tickMs 10; enough sessions for WRITERS in flight. */
  client(): Client {
    const c = new Client(this.endpoints, { attemptTimeoutMs: 1000, timeoutMs: 15_000, backoff: { minMs: 5, maxMs: 100 }, sessions: WRITERS });
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close();
    await Promise.allSettled(this.ids.map((id) => this.stop(id)));
  }
}

let open: ObservedCluster | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

/** The node's applied records under `prefix`, read locally a page at a time. */
function localRange(node: Node, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  const dec = new TextDecoder();
  const start = utf8(prefix);
  const end = utf8(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1));
  let after: Uint8Array | undefined;
  for (;;) {
    const page = node.range(start, end, { limit: 5000, ...(after && { after }) });
    for (const r of page.records) out.set(dec.decode(r.key), dec.decode(r.record.value));
    if (!page.more) return out;
    after = page.after!;
  }
}

/** Size of a node's snapshot image, read chunk by chunk and dropped. */
function imageBytes(node: Node): number {
  const reader = node.stateMachine.openSnapshot();
  let total = 0;
  try {
    for (let c = reader.read(CHUNK_BYTES); c !== null; c = reader.read(CHUNK_BYTES)) total += c.byteLength;
  } finally {
    reader.close();
  }
  return total;
}

interface Peaks {
  rss: number;
  heapUsed: number;
  external: number;
  /** heapUsed + arrayBuffers right after a full collection. */
  live: number;
}

const MiB = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MiB`;

describe('snapshot catch-up of a lagging durable follower', () => {
  it('installs a streamed snapshot of 10,000 keys, holding far less than the image in memory', async () => {
    const gc = collector();
    const cluster = (open = new ObservedCluster(tempDir()));
    for (const id of cluster.ids) await cluster.start(id);
    const kv = cluster.client();
    await kv.put('warm-up', 'x');
    const leader = cluster.leader();
    expect(leader).not.toBe(0);
    const behind = cluster.ids.find((i) => i !== leader)!;
    const stoppedAt = cluster.node(behind).appliedIndex();
    await cluster.stop(behind);

    const t0 = performance.now();
    let next = 0;
    const writer = async (): Promise<void> => {
      while (next < KEYS) {
        const i = next++;
        await kv.put(key(i), value(i));
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    const writeMs = performance.now() - t0;

    // Both running nodes compacted their logs past the stopped follower (whichever leads now
    // must send it a snapshot: the entry it needs next is gone).
    const up = cluster.ids.filter((i) => i !== behind);
    // Writers are answered as soon as results are computed; let the state machines commit them.
    await Promise.all(up.map((i) => cluster.node(i).waitApplied(KEYS, 10_000)));
    const target = Math.max(...up.map((i) => cluster.node(i).appliedIndex()));
    // A snapshot's compaction takes effect when its log write commits, on lmdb-js's writer thread.
    for (let i = 0; i < 200 && up.some((id) => firstLogIndex(cluster.node(id)) <= target - SNAPSHOT_EVERY); i++) await new Promise((r) => setTimeout(r, 10));
    const firsts = up.map((i) => firstLogIndex(cluster.node(i)));
    expect(target).toBeGreaterThan(KEYS);
    for (const first of firsts) {
      expect(first).toBeGreaterThan(stoppedAt + 1);
      expect(first).toBeGreaterThan(target - SNAPSHOT_EVERY);
    }
    const electionsBefore = cluster.elections.length;

    // Baseline just before the restart.
    gc();
    await sleep(20);
    gc();
    const b = process.memoryUsage();
    const baseline: Peaks = { rss: b.rss, heapUsed: b.heapUsed, external: b.external, live: b.heapUsed + b.arrayBuffers };
    const peak: Peaks = { ...baseline };
    let samples = 0;
    let liveSamples = 0;
    const raw = (): void => {
      const m = process.memoryUsage();
      peak.rss = Math.max(peak.rss, m.rss);
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
      peak.external = Math.max(peak.external, m.external);
      samples++;
    };
    const live = (): void => {
      // The second collection completes the first's release of ArrayBuffer memory, which V8
      // sweeps concurrently: right after one gc(), arrayBuffers still counts buffers already dead.
      gc();
      gc();
      const m = process.memoryUsage();
      peak.live = Math.max(peak.live, m.heapUsed + m.arrayBuffers);
      liveSamples++;
    };
    const rawTimer = setInterval(raw, SAMPLE_MS);
    const liveTimer = setInterval(live, LIVE_SAMPLE_MS);
    const t1 = performance.now();
    let follower: Node;
    let sawSnapshotState = false;
    try {
      follower = await cluster.start(behind);
      while (follower.appliedIndex() < target) {
        const l = cluster.leader();
        sawSnapshotState ||= l !== 0 && cluster.node(l).status().progress.get(behind)?.state === 'snapshot';
        await follower.waitApplied(follower.appliedIndex(), 10);
      }
    } finally {
      clearInterval(rawTimer);
      clearInterval(liveTimer);
    }
    const catchUpMs = performance.now() - t1;
    raw();
    live();
    // Measured only now: reading the image is synchronous, and a long pause of the one event
    // loop the three nodes share would cost the leader its lease (check-quorum) before the test.
    const stateBytes = imageBytes(follower);
    const rawBytes = Array.from({ length: KEYS }, (_, i) => key(i).length + value(i).length).reduce((a, b) => a + b, 0);

    const installs = cluster.installed.get(behind)!;
    const growth = {
      rss: peak.rss - baseline.rss,
      heapUsed: peak.heapUsed - baseline.heapUsed,
      external: peak.external - baseline.external,
      live: peak.live - baseline.live,
    };
    console.log(
      [
        `snapshot catch-up: ${KEYS} keys x ${VALUE_BYTES} B written in ${writeMs.toFixed(0)} ms; follower ${behind} stopped at index ${stoppedAt}; then applied ${target}, first log index ${firsts.join('/')} on nodes ${up.join('/')}; ${electionsBefore - 1} election(s) while writing, ${cluster.elections.length - electionsBefore} during the catch-up`,
        `  state: image ${MiB(stateBytes)} (${stateBytes} B), keys+values ${MiB(rawBytes)}; chunks of ${CHUNK_BYTES / 1024} KiB; ${installs.length} install(s) at index ${installs.map((x) => x.meta.index).join(', ')}; leader saw progress state 'snapshot': ${sawSnapshotState}; caught up in ${catchUpMs.toFixed(0)} ms`,
        `  baseline rss ${MiB(baseline.rss)}, heapUsed ${MiB(baseline.heapUsed)}, external ${MiB(baseline.external)}, live heap+arrayBuffers ${MiB(baseline.live)}`,
        `  peak     rss ${MiB(peak.rss)}, heapUsed ${MiB(peak.heapUsed)}, external ${MiB(peak.external)}, live heap+arrayBuffers ${MiB(peak.live)}`,
        `  growth   rss ${MiB(growth.rss)}, heapUsed ${MiB(growth.heapUsed)}, external ${MiB(growth.external)}, live ${MiB(growth.live)} (${samples} raw samples, ${liveSamples} live, in ${catchUpMs.toFixed(0)} ms)`,
      ].join('\n'),
    );

    expect(cluster.failures).toEqual([]);
    // It caught up by a snapshot, not by replaying a log the leader no longer has.
    expect(installs.length).toBeGreaterThanOrEqual(1);
    expect(installs[0]!.meta.index).toBeGreaterThanOrEqual(Math.min(...firsts) - 1);
    // Installed as a fresh LMDB environment (lmdb-kv.ts: CURRENT names the live one).
    const current = fs.readFileSync(path.join(cluster.dir, `node-${behind}`, 'state', 'CURRENT'), 'utf8').trim();
    expect(current).not.toBe('state-1');

    // Every key, read locally on the follower.
    const local = localRange(follower, 'key/');
    expect(local.size).toBe(KEYS);
    let wrong = 0;
    for (let i = 0; i < KEYS; i++) if (local.get(key(i)) !== value(i)) wrong++;
    expect(wrong).toBe(0);

    // Memory: the image was never held whole, on either side.
    expect(samples).toBeGreaterThan(10);
    expect(liveSamples).toBeGreaterThan(3);
    expect(growth.live).toBeLessThan(stateBytes / 4);
    expect(growth.heapUsed).toBeLessThan(stateBytes);
    expect(growth.external).toBeLessThan(stateBytes);
  }, 120_000);
});
