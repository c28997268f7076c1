/**
 * Asking the real nodes how they stand, through a probe client whose endpoints are pinned one
 * per node (RemoteClient.remotes): who leads, and whether every node has applied everything the
 * leader committed ("converged"), which is what the replica checks need before they read.
 */
import type { RemoteClient } from '../src/client/remote-client.ts';
import type { NodeStatusReport } from '../src/net/tcp/client-protocol.ts';
import type { NodeId } from '../src/raft/types.ts';
import { nowMs, sleep } from './time.ts';

/** How long one node gets to answer a status request (ms). */
export const STATUS_TIMEOUT_MS = 1_000;
/** Between two looks at the cluster while waiting for it to converge (ms). */
export const CONVERGENCE_POLL_MS = 200;
/** Consecutive identical converged looks required (nothing is still moving). */
const STABLE_LOOKS = 2;

/** The leader of the highest term among the nodes that answer, 0 if none claims to lead. */
export async function currentLeader(probe: RemoteClient, timeoutMs: number = STATUS_TIMEOUT_MS): Promise<NodeId> {
  return leaderOf((await probe.nodeStatus(timeoutMs)).map((s) => s.status));
}

export function leaderOf(statuses: readonly (NodeStatusReport | null)[]): NodeId {
  let best: NodeStatusReport | null = null;
  for (const s of statuses) if (s !== null && s.role === 'leader' && (best === null || s.term > best.term)) best = s;
  return best?.id ?? 0;
}

export interface Convergence {
  readonly ok: boolean;
  /** The leader's commit index every node has applied (when ok). */
  readonly index: number;
  readonly leader: NodeId;
  readonly waitedMs: number;
  /** What the last look saw, one line per node (for the report when not ok). */
  readonly detail: string;
}

/**
 * Polls every node until one leader is followed by all, and every node's log ends where the
 * leader's does and has applied all of it, the same in STABLE_LOOKS looks in a row; or until
 * `budgetMs` has passed (ok false). Then confirms each node's state machine with waitApplied.
 */
export async function waitConverged(probe: RemoteClient, budgetMs: number, signal?: AbortSignal): Promise<Convergence> {
  const start = nowMs();
  const end = start + budgetMs;
  let detail = 'no look yet';
  let last = '';
  let stable = 0;
  while (!signal?.aborted) {
    const results = await probe.nodeStatus(Math.max(1, Math.min(STATUS_TIMEOUT_MS, end - nowMs())));
    const statuses = results.map((r) => r.status);
    detail = results.map((r) => (r.status === null ? `node ${r.id}: ${r.error?.message ?? 'no answer'}` : describe(r.status))).join('; ');
    const leader = leaderOf(statuses);
    const l = statuses.find((s) => s?.id === leader) ?? null;
    const converged =
      l !== null &&
      l.commit === l.lastIndex &&
      statuses.every((s) => s !== null && s.leader === leader && s.lastIndex === l.lastIndex && s.applied === l.commit);
    const look = converged ? `${leader}@${l.commit}` : '';
    stable = converged && look === last ? stable + 1 : converged ? 1 : 0;
    last = look;
    if (converged && stable >= STABLE_LOOKS) {
      const index = l.commit;
      // The Raft status says applied; the state machine is what the reads below see.
      const applied = await Promise.all(probe.remotes.map((ep) => ep.waitApplied(index - 1, Math.max(1, end - nowMs()))));
      if (applied.every((a) => a >= index)) return { ok: true, index, leader, waitedMs: Math.round(nowMs() - start), detail };
      detail += `; state machines applied ${applied.join(', ')} of ${index}`;
      stable = 0;
    }
    if (nowMs() + CONVERGENCE_POLL_MS > end) break;
    await sleep(CONVERGENCE_POLL_MS, signal);
  }
  return { ok: false, index: 0, leader: 0, waitedMs: Math.round(nowMs() - start), detail };
}

function describe(s: NodeStatusReport): string {
  return `node ${s.id}: ${s.role} term ${s.term} leader ${s.leader} commit ${s.commit} applied ${s.applied} last ${s.lastIndex}`;
}
