/**
 * What a node needs from a network: a Transport to send with, and a place to receive. The
 * in-process network implements it today; a TCP network (a listener plus dialers) can implement
 * the same three calls, so Node does not care which one it runs on.
 */
import type { Transport } from '../node/ports.ts';
import type { Message, NodeId } from '../raft/types.ts';

export type Receiver = (message: Message) => void;

export interface Network {
  /** The transport node `id` sends with. */
  transportFor(id: NodeId): Transport;
  /** Delivers messages addressed to `id` to `receive` from now on (replacing an earlier receiver). */
  register(id: NodeId, receive: Receiver): void;
  /** Stops delivery to `id`: messages to it, including those already queued, are dropped. */
  unregister(id: NodeId): void;
}
