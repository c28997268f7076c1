/**
 * Which directed peer links a network fault cuts: a pure function of the fault, the node it is
 * aimed at (known only when the step starts, since it may be the leader) and the cluster's ids.
 * The mesh (proxy-mesh.ts) then partitions exactly the proxies of those links; link a->b carries
 * only a's messages to b, so cutting it alone is a one-way fault.
 *
 * - partition: x is cut off both ways from every other node.
 * - oneway:    only one direction between x and some (or all) of the others: 'out' drops what x
 *              sends to them (a leader that hears its followers but cannot reach them, or a
 *              follower whose acknowledgements are lost); 'in' drops what they send to x (a
 *              leader that sends heartbeats but never hears an ack).
 * - bridge:    Jepsen's partial partition: the nodes other than one bridge node split into two
 *              sides that cannot reach each other (both ways), while the bridge reaches both.
 *              x is on one side (so a step aimed at the leader cuts the leader off from the far
 *              side). Sides are as even as possible; x's side is the smaller when they differ
 *              (even N). 3 nodes: x | bridge | one other. 5 nodes: x + 1 | bridge | 2, two
 *              majorities sharing the bridge. With an odd N both sides plus the bridge are
 *              majorities; with an even N only the far side plus the bridge is.
 *
 * Whatever the fault, some majority stays connected both ways among itself (tested), so the
 * cluster can make progress while the fault is in force. Fewer than 3 nodes have no bridge: the
 * plan is empty and the nemesis skips the step.
 *
 * A CutShape holds the seeded choices (direction, how many peers, their order) without naming
 * nodes, so the schedule can be drawn before anyone knows which node will be aimed at.
 */
import type { SeededRandom } from '../sim/core/random.ts';
import type { NodeId } from '../src/raft/types.ts';

export const LINK_FAULT_KINDS = ['partition', 'oneway', 'bridge'] as const;
export type LinkFaultKind = (typeof LINK_FAULT_KINDS)[number];

/** A directed peer link: the proxy that carries `from`'s messages to `to`. */
export interface Link {
  readonly from: NodeId;
  readonly to: NodeId;
}

export interface CutShape {
  /** oneway: cut what the others send to x (true), or what x sends to them (false). */
  readonly inbound: boolean;
  /** oneway: how many of the other nodes (1..N-1; N-1 is all of them). */
  readonly peers: number;
  /**
   * A permutation of 0..N-2: positions in the ascending list of the nodes other than x. oneway
   * takes the first `peers` of them; bridge takes the first as the bridge, then fills x's side,
   * then the far side.
   */
  readonly order: readonly number[];
}

/** Chance that a oneway fault takes every other node (else a proper, nonempty subset). */
export const ONEWAY_ALL_CHANCE = 0.5;
/** Chance that a oneway fault cuts the links into its node (else the links out of it). */
export const ONEWAY_INBOUND_CHANCE = 0.5;

/** Draws one shape for a cluster of `n` nodes; the draws depend on `n` only, never on the fault kinds. */
export function drawCutShape(random: SeededRandom, n: number): CutShape {
  const others = Math.max(0, n - 1);
  const inbound = random.chance(ONEWAY_INBOUND_CHANCE);
  const all = random.chance(ONEWAY_ALL_CHANCE);
  const some = random.range(1, Math.max(1, others - 1));
  const order = random.shuffle(Array.from({ length: others }, (_, i) => i));
  return { inbound, peers: all || others < 2 ? others : some, order };
}

export interface CutPlan {
  /** Sorted by (from, to), no duplicates, never a node to itself. */
  readonly links: readonly Link[];
  /** For the log, e.g. "2 -/-> 1,3" or "{1} | 3 | {2}". */
  readonly text: string;
}

/** The links `kind` cuts when aimed at `node` in a cluster of `ids`. */
export function planCut(kind: LinkFaultKind, node: NodeId, ids: readonly NodeId[], shape: CutShape): CutPlan {
  if (!ids.includes(node)) throw new RangeError(`node ${node} is not one of ${ids.join(',')}`);
  const others = ids.filter((id) => id !== node).sort((a, b) => a - b);
  if (shape.order.length !== others.length || [...shape.order].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new RangeError(`shape order ${JSON.stringify(shape.order)} is not a permutation of the ${others.length} other nodes`);
  }
  const ordered = shape.order.map((p) => others[p]!);
  switch (kind) {
    case 'partition':
      return { links: normalize(others.flatMap((o) => [{ from: node, to: o }, { from: o, to: node }])), text: `${node} <-/-> ${others.join(',')}` };
    case 'oneway': {
      if (!(Number.isSafeInteger(shape.peers) && shape.peers >= Math.min(1, others.length) && shape.peers <= others.length)) {
        throw new RangeError(`oneway peers must be in 1..${others.length}, got ${shape.peers}`);
      }
      const peers = ordered.slice(0, shape.peers).sort((a, b) => a - b);
      const links = peers.map((p) => (shape.inbound ? { from: p, to: node } : { from: node, to: p }));
      return { links: normalize(links), text: shape.inbound ? `${peers.join(',')} -/-> ${node}` : `${node} -/-> ${peers.join(',')}` };
    }
    case 'bridge': {
      if (ids.length < 3) return { links: [], text: `no bridge in ${ids.length} node(s)` };
      const bridge = ordered[0]!;
      const near = [node, ...ordered.slice(1, Math.floor((ids.length - 1) / 2))].sort((a, b) => a - b);
      const far = ordered.slice(near.length).sort((a, b) => a - b);
      const links = near.flatMap((a) => far.flatMap((b) => [{ from: a, to: b }, { from: b, to: a }]));
      return { links: normalize(links), text: `{${near.join(',')}} | ${bridge} | {${far.join(',')}}` };
    }
  }
}

function normalize(links: readonly Link[]): Link[] {
  const seen = new Map<string, Link>();
  for (const l of links) {
    if (l.from === l.to) throw new RangeError(`link ${l.from}->${l.to} is a node to itself`);
    seen.set(`${l.from}->${l.to}`, l);
  }
  return [...seen.values()].sort((a, b) => a.from - b.from || a.to - b.to);
}
