/**
 * Each peer is reached over two connections ("lanes"): control for everything Raft needs to stay
 * live (heartbeats, votes, appends and their answers) and bulk for snapshot streams. A priority
 * queue in front of one socket is not enough: the kernel's send buffer is FIFO and can hold
 * megabytes of snapshot ahead of a heartbeat. With separate connections a snapshot stream never
 * delays a heartbeat by more than the control lane's own traffic.
 */
import type { Message } from '../../raft/types.ts';

export type Lane = 'control' | 'bulk';

/** The handshake channel that opens each lane. */
export const LANE_CHANNEL: Readonly<Record<Lane, number>> = Object.freeze({ control: 0, bulk: 1 });

export function laneOfChannel(channel: number): Lane | null {
  return channel === LANE_CHANNEL.control ? 'control' : channel === LANE_CHANNEL.bulk ? 'bulk' : null;
}

export function laneOf(m: Message): Lane {
  return m.type === 'snapChunk' || m.type === 'snapChunkAck' || m.type === 'snap' ? 'bulk' : 'control';
}
