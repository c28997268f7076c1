/**
 * One LinkProxy per directed pair of nodes (N*(N-1) of them): node i reaches node j only through
 * the proxy of i->j, because the `--peers` list the harness gives node i names that proxy as j's
 * address. cut() partitions any set of directed links (cuts.ts plans them: a node isolated both
 * ways, one direction only, a bridge); isolate() is the both-ways case; heal() restores them all.
 *
 * Clients do not go through the mesh: they connect to each node's own port. So an isolated node
 * still hears from clients, which is the interesting case: a deposed leader or a cut-off follower
 * that is asked to serve reads and writes it must not answer on its own.
 */
import type { NodeId } from '../src/raft/types.ts';
import type { Link } from './cuts.ts';
import { LinkProxy, type PartitionMode, type Target } from './proxy.ts';
import { LOOPBACK } from './ports.ts';

export class ProxyMesh {
  private constructor(
    readonly ids: readonly NodeId[],
    private readonly links: ReadonlyMap<string, LinkProxy>,
  ) {}

  /** `targetOf(j)`: node j's own (public) address, where every proxy of a link into j forwards. */
  static async start(ids: readonly NodeId[], targetOf: (id: NodeId) => Target): Promise<ProxyMesh> {
    const links = new Map<string, LinkProxy>();
    try {
      for (const from of ids) {
        for (const to of ids) {
          if (from === to) continue;
          links.set(key(from, to), await LinkProxy.start({ name: `${from}->${to}`, target: targetOf(to) }));
        }
      }
    } catch (e) {
      await Promise.allSettled([...links.values()].map((l) => l.close()));
      throw e;
    }
    return new ProxyMesh(ids, links);
  }

  link(from: NodeId, to: NodeId): LinkProxy {
    const l = this.links.get(key(from, to));
    if (l === undefined) throw new RangeError(`no proxy for ${from}->${to}`);
    return l;
  }

  /** Node `id`'s `--peers` value: every other node, at the proxy of the link from `id` to it. */
  peersFlag(id: NodeId): string {
    return this.ids
      .filter((to) => to !== id)
      .map((to) => `${to}=${LOOPBACK}:${this.link(id, to).port}`)
      .join(',');
  }

  /**
   * Partitions exactly the proxies of `links` (each carries one direction only); the others keep
   * forwarding. Every link is checked before any is cut, so an unknown one changes nothing.
   */
  cut(links: readonly Link[], mode: PartitionMode = 'blackhole'): void {
    const proxies = links.map((l) => this.link(l.from, l.to));
    for (const p of proxies) p.partition(mode);
  }

  /** Cuts `id` off from every other node, both ways. */
  isolate(id: NodeId, mode: PartitionMode = 'blackhole'): void {
    this.cut(this.ids.filter((o) => o !== id).flatMap((o) => [{ from: id, to: o }, { from: o, to: id }]), mode);
  }

  /** The links partitioned now, sorted by (from, to). */
  cutLinks(): Link[] {
    const out: Link[] = [];
    for (const from of this.ids) for (const to of this.ids) if (from !== to && this.link(from, to).partitioned !== null) out.push({ from, to });
    return out.sort((a, b) => a.from - b.from || a.to - b.to);
  }

  /** Nodes currently cut off (both ways from every other node). */
  isolated(): NodeId[] {
    return this.ids.filter((id) => this.ids.every((o) => o === id || (this.link(id, o).partitioned !== null && this.link(o, id).partitioned !== null)));
  }

  /** Restores every link. Idempotent. */
  heal(): void {
    for (const l of this.links.values()) l.heal();
  }

  /** Sum of the proxies' counters (for the summary and tests). */
  stats(): { cut: number; reset: number; overLimit: number; forwardedBytes: number } {
    let cut = 0;
    let reset = 0;
    let overLimit = 0;
    let forwardedBytes = 0;
    for (const l of this.links.values()) {
      const s = l.stats();
      cut += s.cut;
      reset += s.reset;
      overLimit += s.overLimit;
      forwardedBytes += s.forwardedBytes;
    }
    return { cut, reset, overLimit, forwardedBytes };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.links.values()].map((l) => l.close()));
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}->${to}`;
}
