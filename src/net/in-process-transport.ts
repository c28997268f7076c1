/**
 * An in-process network for nodes sharing one event loop.
 *
 * Delivery is always asynchronous: send() only queues, and a macrotask (setImmediate) delivers
 * later. Calling the receiver inside send() would re-enter the sending node's Ready loop and
 * the receiver's in the middle of their work. One FIFO queue for all links keeps every link in
 * order. Each drain delivers only what was queued before it began; replies sent while it runs
 * wait for the next macrotask, so timers and LMDB callbacks are never starved by chatty nodes.
 *
 * Messages are copied shallowly at send time (own `entries` array), as the simulated network
 * does: neither side may mutate entries or their bytes, but reassigning fields is harmless.
 */
import type { Transport } from '../node/ports.ts';
import type { Message, NodeId } from '../raft/types.ts';
import type { Network, Receiver } from './network.ts';

export interface InProcessNetworkOptions {
  /**
   * Receives what a receiver throws, with the message it was handling. A receiver should not
   * throw (Node turns its failures into a fatal stop); by default the error is rethrown on its
   * own macrotask, after the rest of the batch has been delivered.
   */
  readonly onReceiveError?: (error: unknown, message: Message) => void;
}

export class InProcessNetwork implements Network {
  private readonly receivers = new Map<NodeId, Receiver>();
  private queue: Message[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  private readonly onReceiveError: (error: unknown, message: Message) => void;
  /** Messages handed to a receiver, and dropped because nobody was registered at delivery. */
  delivered = 0;
  dropped = 0;

  constructor(options: InProcessNetworkOptions = {}) {
    this.onReceiveError =
      options.onReceiveError ??
      ((e) =>
        setImmediate(() => {
          throw e;
        }));
  }

  transportFor(id: NodeId): Transport {
    return {
      send: (m: Message) => {
        if (m.from !== id) throw new RangeError(`transport of node ${id} asked to send a message from ${m.from}`);
        this.enqueue(m);
      },
    };
  }

  register(id: NodeId, receive: Receiver): void {
    this.receivers.set(id, receive);
  }

  unregister(id: NodeId): void {
    this.receivers.delete(id);
  }

  /** Messages queued and not yet delivered. */
  get inFlight(): number {
    return this.queue.length;
  }

  private enqueue(m: Message): void {
    this.queue.push({ ...m, entries: [...m.entries] });
    this.scheduled ??= setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = null;
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      // Looked up at delivery: a node stopped meanwhile loses what was in flight to it.
      const receive = this.receivers.get(m.to);
      if (receive === undefined) {
        this.dropped++;
        continue;
      }
      this.delivered++;
      try {
        receive(m);
      } catch (e) {
        this.onReceiveError(e, m);
      }
    }
  }
}
