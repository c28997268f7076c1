/**
 * Raft's safety properties (paper Figure 3), checked online from the nodes' observer hooks and
 * offline over the final logs:
 * - election safety: at most one leader per term;
 * - leader completeness: a new leader holds every entry known committed;
 * - state-machine safety: no two nodes apply different entries at one index;
 * - monotonic commit/apply: persisted commit and term never go back; apply is gap-free, and a
 *   durable state machine restarts where it stopped;
 * - log matching: two logs with an entry of the same (index, term) agree up to it;
 * - no acknowledged write lost: an acked command sits at its index in the committed history.
 * Each violation is recorded as a sentence; the run fails if there is any.
 */
import type { NodeObserver } from '../../src/node/raft-node.ts';
import type { Entry, HardState, NodeId, Snapshot, SoftState } from '../../src/raft/types.ts';
import { fnv1a64 } from '../core/trace.ts';

/** What the checker needs to inspect a live node's log. */
export interface LogInspector {
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number | null;
  entryHash(index: number): string | null;
}

interface Applied {
  readonly term: number;
  readonly hash: string;
}

const MAX_VIOLATIONS = 50;

export function entryHash(e: Entry): string {
  return `${e.type}:${fnv1a64(e.data)}`;
}

export class InvariantChecker implements NodeObserver {
  readonly violations: string[] = [];
  private readonly leaders = new Map<number, NodeId>();
  /** The committed history, as first applied by anyone: index → (term, hash). */
  private readonly history = new Map<number, Applied>();
  private maxApplied = 0;
  private readonly lastApplied = new Map<NodeId, number>();
  private readonly lastPersisted = new Map<NodeId, HardState>();
  /**
   * Highest commit index any node persisted while in each term. An entry covered by the commit
   * of some node in term t was committed in a term <= t, so every leader of a term > t must hold
   * it (leader completeness binds later terms only: a stale leader of an older term need not).
   */
  private readonly maxCommitByTerm = new Map<number, number>();
  private readonly acked: Array<{ index: number; hash: string; what: string }> = [];
  /** Elections seen, for reports: term → leader and time. */
  readonly elections: Array<{ term: number; leader: NodeId; at: number }> = [];

  constructor(
    private readonly inspect: (node: NodeId) => LogInspector | null,
    private readonly now: () => number,
  ) {}

  violation(text: string): void {
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push(text);
  }

  /**
   * A node restarted at `appliedIndex`: a volatile state machine was rebuilt from the snapshot
   * and replays from there, so its apply cursor moves back. A durable one commits every apply
   * and install before the observer hears of it, so it must resume exactly where it was.
   */
  nodeRestarted(node: NodeId, appliedIndex: number, durable = false): void {
    const before = this.lastApplied.get(node);
    if (durable && before !== undefined && appliedIndex !== before) {
      this.violation(`durable apply: node ${node} restarted at applied index ${appliedIndex}, but had applied through ${before} before it stopped`);
    }
    this.lastApplied.set(node, appliedIndex);
  }

  roleChanged(node: NodeId, soft: SoftState, term: number): void {
    if (soft.role !== 'leader') return;
    const prior = this.leaders.get(term);
    if (prior !== undefined && prior !== node) {
      this.violation(`election safety: nodes ${prior} and ${node} both led term ${term}`);
      return;
    }
    if (prior === undefined) {
      this.leaders.set(term, node);
      this.elections.push({ term, leader: node, at: this.now() });
    }
    this.checkLeaderCompleteness(node, term);
  }

  private checkLeaderCompleteness(node: NodeId, term: number): void {
    const log = this.inspect(node);
    if (!log) return;
    let mustHold = 0;
    for (const [t, c] of this.maxCommitByTerm) if (t < term && c > mustHold) mustHold = c;
    const from = Math.max(1, log.firstIndex());
    for (let i = from; i <= mustHold; i++) {
      const known = this.history.get(i);
      if (!known) continue;
      const t = log.term(i);
      if (t !== known.term || log.entryHash(i) !== known.hash) {
        this.violation(
          `leader completeness: leader ${node} of term ${term} has term ${t} at index ${i}, committed before term ${term} with term ${known.term}`,
        );
        return;
      }
    }
  }

  persisted(node: NodeId, hs: HardState | null, _entries: readonly Entry[], _snap: Snapshot | null): void {
    if (!hs) return;
    if (hs.commit > (this.maxCommitByTerm.get(hs.term) ?? 0)) this.maxCommitByTerm.set(hs.term, hs.commit);
    const prev = this.lastPersisted.get(node);
    if (prev) {
      if (hs.term < prev.term) this.violation(`monotonic term: node ${node} persisted term ${hs.term} after ${prev.term}`);
      if (hs.commit < prev.commit) this.violation(`monotonic commit: node ${node} persisted commit ${hs.commit} after ${prev.commit}`);
      if (hs.term === prev.term && prev.vote !== 0 && hs.vote !== prev.vote) {
        this.violation(`vote changed: node ${node} voted ${prev.vote} then ${hs.vote} in term ${hs.term}`);
      }
    }
    this.lastPersisted.set(node, hs);
  }

  snapshotInstalled(node: NodeId, snap: Snapshot): void {
    const known = this.history.get(snap.meta.index);
    if (known && known.term !== snap.meta.term) {
      this.violation(`snapshot: node ${node} installed a snapshot at ${snap.meta.index} with term ${snap.meta.term}, committed term is ${known.term}`);
    }
    this.lastApplied.set(node, snap.meta.index);
  }

  applied(node: NodeId, entries: readonly Entry[]): void {
    let last = this.lastApplied.get(node) ?? 0;
    for (const e of entries) {
      if (e.index !== last + 1) this.violation(`apply order: node ${node} applied ${e.index} after ${last}`);
      last = e.index;
      const h = entryHash(e);
      const known = this.history.get(e.index);
      if (!known) {
        this.history.set(e.index, { term: e.term, hash: h });
        if (e.index > this.maxApplied) this.maxApplied = e.index;
      } else if (known.term !== e.term || known.hash !== h) {
        this.violation(`state-machine safety: node ${node} applied (${e.index}, term ${e.term}) but (${e.index}, term ${known.term}) was applied elsewhere`);
      }
    }
    this.lastApplied.set(node, last);
  }

  /** A client was told its command took effect at `index`. */
  acknowledged(index: number, command: Uint8Array, what: string): void {
    this.acked.push({ index, hash: `0:${fnv1a64(command)}`, what });
  }

  /** Every acknowledged command must be in the committed history at its index. */
  checkAcknowledged(): void {
    for (const a of this.acked) {
      const known = this.history.get(a.index);
      if (!known) this.violation(`acknowledged write lost: ${a.what} acked at index ${a.index}, which was never applied`);
      else if (known.hash !== a.hash) this.violation(`acknowledged write lost: ${a.what} acked at index ${a.index}, but another entry was committed there`);
    }
  }

  /** Every node that is up must have applied through `index` (after the liveness phase). */
  checkCaughtUp(nodes: readonly NodeId[], applied: (n: NodeId) => number, index: number): void {
    for (const n of nodes) {
      const a = applied(n);
      if (a < index) this.violation(`liveness: node ${n} applied only ${a} of ${index} after healing`);
    }
  }

  /** Log matching over every pair of live logs. */
  checkLogMatching(nodes: readonly NodeId[]): void {
    for (let x = 0; x < nodes.length; x++) {
      for (let y = x + 1; y < nodes.length; y++) {
        const a = this.inspect(nodes[x]!);
        const b = this.inspect(nodes[y]!);
        if (!a || !b) continue;
        const lo = Math.max(a.firstIndex(), b.firstIndex());
        const hi = Math.min(a.lastIndex(), b.lastIndex());
        for (let i = hi; i >= lo; i--) {
          if (a.term(i) !== b.term(i)) continue;
          // Same (index, term): every entry from here down must be identical.
          for (let j = i; j >= lo; j--) {
            if (a.term(j) !== b.term(j) || a.entryHash(j) !== b.entryHash(j)) {
              this.violation(`log matching: nodes ${nodes[x]} and ${nodes[y]} agree at (${i}, term ${a.term(i)}) but differ at ${j}`);
              return;
            }
          }
          break;
        }
      }
    }
  }

  get committedIndex(): number {
    return this.maxApplied;
  }
}
