/** Notable moments of a simulated run, for the demo's timeline and for failure reports. */
import type { NodeId } from '../../src/raft/types.ts';

export type TimelineEvent =
  | { at: number; kind: 'leader' | 'stepDown'; node: NodeId; term: number }
  | { at: number; kind: 'crash'; node: NodeId; detail: string; wasLeader: boolean; term: number }
  | { at: number; kind: 'bitflip' | 'corrupt'; node: NodeId; detail: string }
  | { at: number; kind: 'restart' | 'pause' | 'resume'; node: NodeId }
  | { at: number; kind: 'snapshot'; node: NodeId; index: number }
  | { at: number; kind: 'nemesis'; detail: string }
  | { at: number; kind: 'phase'; detail: string };

export function formatEvent(e: TimelineEvent): string {
  const t = `${(e.at / 1000).toFixed(3).padStart(9)}s`;
  switch (e.kind) {
    case 'leader':
      return `${t}  node ${e.node} became leader of term ${e.term}`;
    case 'stepDown':
      return `${t}  node ${e.node} stepped down as leader (term ${e.term})`;
    case 'crash':
      return `${t}  node ${e.node}${e.wasLeader ? ' (the leader)' : ''} crashed (${e.detail})`;
    case 'bitflip':
      return `${t}  node ${e.node} disk bit flip (${e.detail})`;
    case 'corrupt':
      return `${t}  node ${e.node} refused to start: ${e.detail}`;
    case 'restart':
      return `${t}  node ${e.node} restarted`;
    case 'pause':
      return `${t}  node ${e.node} paused`;
    case 'resume':
      return `${t}  node ${e.node} resumed`;
    case 'snapshot':
      return `${t}  node ${e.node} installed a snapshot at index ${e.index}`;
    case 'nemesis':
      return `${t}  ${e.detail}`;
    case 'phase':
      return `${t}  == ${e.detail} ==`;
  }
}
