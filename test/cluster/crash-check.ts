/**
 * The checks of crash-safety.test.ts, shared by the test (which opens the cluster's directory
 * itself between runs) and its child (which checks the state it recovered before writing).
 *
 * The workload writes each key `k<i>` at most once, with value `v<i>`. So on every replica:
 * - every acknowledged key is present with its value (nothing acknowledged was lost);
 * - every key present, acknowledged or not, has version 1, createRevision === modRevision, and
 *   exactly one event in the event log, a put at that revision, and no delete (an entry applied
 *   twice, by a replay after restart or by a retried session command, would show as version 2
 *   and a second put event);
 * - the three replicas hold identical records at the same applied index;
 * - and the cluster accepts a new write (the probe, which is then checked like the rest).
 */
import type { Cluster } from '../../src/cluster/cluster.ts';
import type { Node } from '../../src/cluster/node.ts';
import type { KvRecord } from '../../src/store/kv-command.ts';
import { fromUtf8 } from '../../src/util/bytes.ts';

/** The options every run of the child (and the test's own checks) open the cluster with. */
export const CRASH_CLUSTER = Object.freeze({ nodes: 3, tickMs: 10, snapshotEvery: 300 });

/** What crash-child.ts gets as its one argument, in JSON. */
export interface CrashChildOptions {
  readonly dir: string;
  readonly seed: number;
  /** The first key index this run writes (runs use disjoint ranges, so no key is written twice). */
  readonly base: number;
  /** File holding the JSON array of key indexes acknowledged by earlier runs. */
  readonly ledger: string;
  /** Stop the leader now and then, and start it again (client retries across leader changes). */
  readonly churn: boolean;
  /** The child exits on its own after this long: it never outlives a test that lost track of it. */
  readonly maxLifeMs: number;
}

export interface CrashCheckResult {
  /** What is wrong; empty if all is well. */
  readonly problems: string[];
  /** Keys `k<i>` present (acknowledged or not). */
  readonly present: number;
  /** Present keys that were never acknowledged (applied, but the process died before the ack). */
  readonly unacknowledged: number;
  readonly appliedIndex: number;
  readonly events: number;
}

const MAX_PROBLEMS = 20;
const PAGE = 5000;

/** The value the workload writes under key `k<i>` (and under a probe key, the key itself). */
export const valueOf = (key: string): string => (key.startsWith('k') ? `v${key.slice(1)}` : key);

function allRecords(node: Node): Map<string, KvRecord> {
  const out = new Map<string, KvRecord>();
  let after: Uint8Array | undefined;
  for (;;) {
    const page = node.range(new Uint8Array(0), null, { limit: PAGE, ...(after && { after }) });
    for (const r of page.records) out.set(fromUtf8(r.key), r.record);
    if (!page.more) return out;
    after = page.after!;
  }
}

/** Put and delete events per key, from the first revision on. */
function allEvents(node: Node): { puts: Map<string, number[]>; deletes: Map<string, number>; total: number } {
  const puts = new Map<string, number[]>();
  const deletes = new Map<string, number>();
  let total = 0;
  let rev = 1;
  let sub = 0;
  for (;;) {
    const page = node.events(rev, PAGE, sub);
    for (const e of page) {
      const k = fromUtf8(e.key);
      if (e.type === 'put') puts.set(k, [...(puts.get(k) ?? []), e.revision]);
      else deletes.set(k, (deletes.get(k) ?? 0) + 1);
      total++;
    }
    if (page.length < PAGE) return { puts, deletes, total };
    const last = page[page.length - 1]!;
    rev = last.revision;
    sub = last.sub + 1;
  }
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Checks a started cluster against the keys acknowledged so far, after writing `probeKey`
 * through a client. Throws only if the cluster cannot be made to answer at all.
 */
export async function checkCluster(cluster: Cluster, acknowledged: Iterable<number>, probeKey: string): Promise<CrashCheckResult> {
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else if (problems.length === MAX_PROBLEMS) problems.push('...');
  };

  // New writes are accepted.
  const kv = cluster.client();
  try {
    await kv.put(probeKey, valueOf(probeKey));
  } finally {
    await kv.close();
  }
  // Every node has applied everything committed so far (the probe included), and all are at the same index.
  const nodes = cluster.ids.map((id) => {
    const n = cluster.node(id);
    if (!n) throw new Error(`node ${id} is not running`);
    return n;
  });
  await Promise.all(nodes.map((n) => n.readBarrier()));
  await until('the replicas to apply the same index', () => new Set(nodes.map((n) => n.appliedIndex())).size === 1, 10_000);
  const appliedIndex = nodes[0]!.appliedIndex();

  const acked = new Set(acknowledged);
  let present = 0;
  let unacknowledged = 0;
  let events = 0;
  let reference: Map<string, KvRecord> | null = null;
  for (const node of nodes) {
    const at = `node ${node.id}`;
    const records = allRecords(node);
    const ev = allEvents(node);
    events = ev.total;
    for (const i of acked) {
      const r = records.get(`k${i}`);
      if (!r) problem(`${at}: acknowledged key k${i} is missing`);
    }
    if (!records.has(probeKey)) problem(`${at}: the probe ${probeKey} is missing`);
    for (const [key, r] of records) {
      const value = fromUtf8(r.value);
      if (value !== valueOf(key)) problem(`${at}: ${key} holds ${JSON.stringify(value)}, expected ${JSON.stringify(valueOf(key))}`);
      if (r.version !== 1 || r.createRevision !== r.modRevision) {
        problem(`${at}: ${key} was written more than once: version ${r.version}, created at ${r.createRevision}, modified at ${r.modRevision}`);
      }
      const puts = ev.puts.get(key) ?? [];
      if (puts.length !== 1 || puts[0] !== r.modRevision) problem(`${at}: ${key} has put events at revisions [${puts.join(', ')}], expected exactly [${r.modRevision}]`);
      if (ev.deletes.has(key)) problem(`${at}: ${key} has ${ev.deletes.get(key)} delete event(s)`);
    }
    for (const [key, revs] of ev.puts) if (!records.has(key)) problem(`${at}: ${key} has put events at [${revs.join(', ')}] but no record`);
    if (reference === null) {
      reference = records;
      present = [...records.keys()].filter((k) => /^k\d+$/.test(k)).length;
      unacknowledged = [...records.keys()].filter((k) => /^k\d+$/.test(k) && !acked.has(Number(k.slice(1)))).length;
    } else {
      if (records.size !== reference.size) problem(`${at}: ${records.size} keys, node ${nodes[0]!.id} has ${reference.size}`);
      for (const [key, r] of records) {
        const o = reference.get(key);
        if (!o || o.modRevision !== r.modRevision || o.version !== r.version || fromUtf8(o.value) !== fromUtf8(r.value)) {
          problem(`${at}: ${key} differs from node ${nodes[0]!.id}`);
        }
      }
    }
  }
  return { problems, present, unacknowledged, appliedIndex, events };
}
