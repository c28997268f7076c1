/**
 * The end-of-run checks, after the cluster has healed and converged (convergence.ts):
 *
 * 1. Linearizability of the recorded history, by the simulator's checker (sim/check/
 *    linearizability.ts, as sim/run.ts calls it). The history ends with one linearizable read of
 *    every key, so an acknowledged write that vanished shows there too whenever it should.
 *
 * 2. Every acknowledged write is present on every replica. Each node is read directly (the probe
 *    client's endpoint of that node: no failover, no barrier): its watch event log, which is
 *    replicated state (every mutation at its revision, the newest EVENT_HISTORY kept), and the
 *    final value of every key.
 *
 *    LOST. An acknowledged write w (a put, or a cas that succeeded, answered ok with revision r,
 *    writing value v to key k) is lost if, after convergence, some replica does not hold it:
 *    - its event log covers r and has no put of v to k at r; or
 *    - its event log no longer covers r (trimmed), and its final value of k is neither v nor the
 *      value of a write that may be ordered after w: one that had not completed when w was
 *      invoked (acknowledged later, or of unknown outcome). Values are unique per write, so a
 *      final value names the one write that made it; absent (null) means w is gone.
 *    `lost` counts such writes, each once however many replicas miss it.
 *
 *    DIVERGENCE (a violation, not a loss): a replica whose event log differs from the leader's on
 *    a revision both hold, or whose final value of a key differs from that key's linearizable
 *    final read.
 */
import type { RemoteClient } from '../src/client/remote-client.ts';
import type { RemoteEndpoint } from '../src/client/remote-endpoint.ts';
import { isTesseraError } from '../src/errors.ts';
import type { NodeId } from '../src/raft/types.ts';
import { pairOperations, type HistoryEvent, type Operation } from '../sim/check/history.ts';
import { checkLinearizable, describeFailure } from '../sim/check/linearizability.ts';
import type { AckedWrite } from './workload.ts';
import { within } from './time.ts';

/** Events asked for per page. */
export const EVENT_PAGE = 1_000;
/** Most event pages read from one node (bounds the read at EVENT_PAGE * MAX_EVENT_PAGES events). */
export const MAX_EVENT_PAGES = 2_000;
/** One request to one node (ms). */
export const READ_TIMEOUT_MS = 5_000;
/** Problems listed in detail (the rest are counted). */
const MAX_LISTED = 10;

const utf8 = new TextDecoder();

/** One mutation in a replica's event log. */
export interface LoggedEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** put: the value written; delete: null. */
  readonly value: string | null;
}

export interface ReplicaState {
  readonly id: NodeId;
  /** Revisions below this were trimmed from the event log (1: it holds them all). */
  readonly floor: number;
  /** revision -> the events of that revision, in order. */
  readonly events: ReadonlyMap<number, readonly LoggedEvent[]>;
  /** Final value of every workload key (null: absent). */
  readonly values: ReadonlyMap<string, string | null>;
}

/** Reads one node's event log and the final values of `keys`, straight from that node. */
export async function readReplica(ep: RemoteEndpoint, keys: readonly string[]): Promise<ReplicaState> {
  const enc = new TextEncoder();
  let floor = 1;
  const events = new Map<number, LoggedEvent[]>();
  let cursor = { revision: 1, sub: 0 };
  for (let page = 0; ; page++) {
    if (page >= MAX_EVENT_PAGES) throw new Error(`node ${ep.id}: event log longer than ${MAX_EVENT_PAGES} pages of ${EVENT_PAGE}`);
    let batch;
    try {
      batch = await within(ep.events(cursor.revision, EVENT_PAGE, cursor.sub), READ_TIMEOUT_MS, `node ${ep.id}: events did not answer`);
    } catch (e) {
      // Trimmed history: start again at the floor the node names.
      const m = isTesseraError(e, 'COMPACTED') && page === 0 ? /starts at revision (\d+)/.exec(e.message) : null;
      if (m === null) throw e;
      floor = Number(m[1]);
      cursor = { revision: floor, sub: 0 };
      continue;
    }
    // A page may be cut short by bytes (page-budget.ts): only an empty one is the end.
    if (batch.length === 0) break;
    for (const e of batch) {
      let list = events.get(e.revision);
      if (list === undefined) events.set(e.revision, (list = []));
      list.push({ type: e.type, key: utf8.decode(e.key), value: e.type === 'put' ? utf8.decode(e.value) : null });
      cursor = { revision: e.revision, sub: e.sub + 1 };
    }
  }
  const values = new Map<string, string | null>();
  for (const key of keys) {
    const rec = await within(ep.get(enc.encode(key)), READ_TIMEOUT_MS, `node ${ep.id}: get ${key} did not answer`);
    values.set(key, rec === null ? null : utf8.decode(rec.value));
  }
  return { id: ep.id, floor, events, values };
}

export async function readReplicas(probe: RemoteClient, keys: readonly string[]): Promise<ReplicaState[]> {
  return Promise.all(probe.remotes.map((ep) => readReplica(ep, keys)));
}

export interface LostWrite {
  readonly write: AckedWrite;
  /** The replicas that do not hold it. */
  readonly missingOn: NodeId[];
}

export interface ReplicaVerdict {
  readonly lost: LostWrite[];
  /** Divergences between replicas, or from the final reads. */
  readonly violations: string[];
}

/**
 * Applies the rules of this file's comment. `history` is the recorded history (for which writes
 * may follow which); `finalReads` the linearizable final value of each key; `leader` the node
 * the other event logs are compared with.
 */
export function checkReplicas(input: {
  readonly acked: readonly AckedWrite[];
  readonly history: readonly HistoryEvent[];
  readonly replicas: readonly ReplicaState[];
  readonly finalReads: ReadonlyMap<string, string | null>;
  readonly leader: NodeId;
}): ReplicaVerdict {
  const violations: string[] = [];
  const writes = writesByValue(input.history);
  const lost: LostWrite[] = [];
  for (const w of input.acked) {
    const missingOn: NodeId[] = [];
    const self = writes.get(w.value);
    for (const r of input.replicas) {
      if (w.revision >= r.floor) {
        const at = r.events.get(w.revision) ?? [];
        if (!at.some((e) => e.type === 'put' && e.key === w.key && e.value === w.value)) missingOn.push(r.id);
        continue;
      }
      const final = r.values.get(w.key);
      if (final === w.value) continue;
      const other = final === null || final === undefined ? undefined : writes.get(final);
      const mayFollow = other !== undefined && self !== undefined && other.key === w.key && other.returnIndex > self.callIndex;
      if (!mayFollow) missingOn.push(r.id);
    }
    if (missingOn.length > 0) lost.push({ write: w, missingOn });
  }

  const reference = input.replicas.find((r) => r.id === input.leader) ?? input.replicas[0];
  if (reference !== undefined) {
    for (const r of input.replicas) {
      if (r === reference) continue;
      const d = firstLogDifference(reference, r);
      if (d !== null) violations.push(`replica divergence: node ${r.id}'s event log differs from node ${reference.id}'s at revision ${d}`);
    }
  }
  for (const [key, expected] of input.finalReads) {
    for (const r of input.replicas) {
      const v = r.values.get(key);
      if (v !== expected) violations.push(`replica divergence: node ${r.id} holds ${JSON.stringify(v)} for ${JSON.stringify(key)}, the final linearizable read gave ${JSON.stringify(expected)}`);
    }
  }
  return { lost, violations };
}

/** The first revision both logs hold on which they differ (or that one holds and the other lacks), null if none. */
function firstLogDifference(a: ReplicaState, b: ReplicaState): number | null {
  const floor = Math.max(a.floor, b.floor);
  const revisions = new Set<number>();
  for (const r of [a, b]) for (const rev of r.events.keys()) if (rev >= floor) revisions.add(rev);
  for (const rev of [...revisions].sort((x, y) => x - y)) {
    const x = a.events.get(rev);
    const y = b.events.get(rev);
    if (x === undefined || y === undefined || JSON.stringify(x) !== JSON.stringify(y)) return rev;
  }
  return null;
}

/** Every write of the history (acknowledged or of unknown outcome; failed ones had no effect) by the value it writes. */
function writesByValue(history: readonly HistoryEvent[]): Map<string, Operation> {
  const out = new Map<string, Operation>();
  for (const op of pairOperations(history)) {
    if (op.f === 'put') out.set(op.input, op);
    else if (op.f === 'cas' && op.input[1] !== null) out.set(op.input[1], op);
  }
  return out;
}

export type LinearizabilityVerdict = { readonly ok: true } | { readonly ok: false; readonly report: string } | { readonly ok: 'unknown'; readonly report: string };

/** The simulator's checker over the whole history, with a wall-clock budget. */
export function checkHistory(history: readonly HistoryEvent[], timeoutMs: number): LinearizabilityVerdict {
  const r = checkLinearizable(history, { timeoutMs });
  if (r.ok === true) return { ok: true };
  return { ok: r.ok, report: describeFailure(r) };
}

export function describeLost(lost: readonly LostWrite[]): string[] {
  const lines = lost.slice(0, MAX_LISTED).map((l) => `lost: ${l.write.f} ${JSON.stringify(l.write.key)} = ${JSON.stringify(l.write.value)} by process ${l.write.process}, acknowledged at revision ${l.write.revision}, missing on node(s) ${l.missingOn.join(', ')}`);
  if (lost.length > MAX_LISTED) lines.push(`... and ${lost.length - MAX_LISTED} more lost writes`);
  return lines;
}
