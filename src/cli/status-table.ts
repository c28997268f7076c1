/**
 * `tessera status` as text: who the members are, who leads at which term, and per node its
 * commit and applied index, with each follower's lag (how many entries its applied index is
 * behind the leader's) and the leader's view of its log (match). Pure, for tests.
 */
import type { NodeStatusResult } from '../client/remote-client.ts';
import { formatAddress } from '../net/tcp/address.ts';
import type { NodeStatusReport } from '../net/tcp/client-protocol.ts';

export interface StatusSummary {
  readonly clusterId: string | null;
  readonly leader: number;
  readonly term: number;
  readonly members: readonly number[];
  readonly nodes: readonly {
    readonly id: number;
    readonly address: string;
    readonly role: string;
    readonly term: number | null;
    readonly commit: number | null;
    readonly applied: number | null;
    /** Entries the node's applied index is behind the leader's; null for the leader or if unknown. */
    readonly lag: number | null;
    /** The leader's match index for this follower. */
    readonly match: number | null;
    readonly error: string | null;
  }[];
}

export function summarize(results: readonly NodeStatusResult[]): StatusSummary {
  const reports = results.map((r) => r.status).filter((s): s is NodeStatusReport => s !== null);
  // A deposed leader may not know yet: the highest term wins.
  const lead = reports.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term)[0];
  const members = [...new Set([...results.map((r) => r.id), ...reports.flatMap((s) => s.members.map((m) => m.id))])].sort((a, b) => a - b);
  const nodes = members.map((id) => {
    const r = results.find((x) => x.id === id);
    const s = r?.status ?? null;
    const address = r ? formatAddress(r.address) : (reports.flatMap((x) => x.members).find((m) => m.id === id)?.address ?? null);
    const match = lead?.progress.find((p) => p.id === id)?.match ?? null;
    return {
      id,
      address: typeof address === 'string' ? address : address ? formatAddress(address) : '?',
      role: s?.role ?? 'unreachable',
      term: s?.term ?? null,
      commit: s?.commit ?? null,
      applied: s?.applied ?? null,
      lag: lead && s && s.id !== lead.id ? Math.max(0, lead.applied - s.applied) : null,
      match: lead && id !== lead.id ? match : null,
      error: r?.error?.message ?? (r ? null : 'not connected'),
    };
  });
  return { clusterId: reports[0]?.clusterId ?? null, leader: lead?.id ?? 0, term: lead?.term ?? Math.max(0, ...reports.map((s) => s.term)), members, nodes };
}

export function formatStatus(s: StatusSummary): string {
  const head = `cluster ${s.clusterId ?? '?'}  members ${s.members.join(',')}  leader ${s.leader === 0 ? 'none' : s.leader}  term ${s.term}`;
  const rows = [['node', 'address', 'role', 'term', 'commit', 'applied', 'lag', 'match']];
  const dash = (n: number | null) => (n === null ? '-' : String(n));
  for (const n of s.nodes) rows.push([String(n.id), n.address, n.role, dash(n.term), dash(n.commit), dash(n.applied), dash(n.lag), dash(n.match)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  const errors = s.nodes.filter((n) => n.error !== null).map((n) => `node ${n.id}: ${n.error}`);
  return [head, ...lines, ...errors].join('\n');
}
