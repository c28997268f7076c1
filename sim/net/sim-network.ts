/**
 * The simulated network. Each send becomes an event of the destination's target, so a paused
 * node's inbox is held and a crashed node's in-flight messages die with its incarnation.
 *
 * Fault decisions are made at send time (a partition that starts later does not catch messages
 * already on the wire, as with real packets); whether the receiver is up is checked at delivery.
 *
 * Messages are immutable by contract: every delivered copy is a fresh shallow copy with its own
 * `entries` array, taken at send time, so neither a sender that reuses its object nor a receiver
 * that reassigns fields or splices `entries` can affect the other side or a duplicate. Entry
 * objects, their `data` bytes and snapshots are shared: receivers must not mutate them.
 *
 * Counters: sent + duplicated = delivered + dropped + in flight + lost to a receiver's crash
 * (the simulator discards those without telling the network).
 */
import type { Message, MessageType, NodeId } from '../../src/raft/types.ts';
import type { Transport } from '../../src/node/ports.ts';
import { assert } from '../../src/util/assert.ts';
import type { SeededRandom } from '../core/random.ts';
import type { Simulator } from '../core/simulator.ts';
import { US_PER_MS } from '../core/skewed-clock.ts';
import type { TracePart, TraceHash } from '../core/trace.ts';
import { Connectivity, type IsolateMode } from './connectivity.ts';

export interface DelayRange {
  /** Milliseconds; resolved to whole microseconds. */
  readonly min: number;
  readonly max: number;
}

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered a second time, after an independent delay. */
  readonly duplicateRate: number;
  /** Usual one-way latency, uniform in [min, max]. */
  readonly delayMs: DelayRange;
  /** Probability that a message takes a long delay instead (this is what reorders messages). */
  readonly longDelayRate: number;
  readonly longDelayMs: DelayRange;
}

export const DEFAULT_NETWORK_FAULTS: NetworkFaults = Object.freeze({
  dropRate: 0,
  duplicateRate: 0,
  delayMs: Object.freeze({ min: 1, max: 5 }),
  longDelayRate: 0,
  longDelayMs: Object.freeze({ min: 50, max: 500 }),
});

export interface NetworkStats {
  sent: number;
  delivered: number;
  /** All drops: the three below summed. */
  dropped: number;
  duplicated: number;
  droppedByPartition: number;
  droppedByFault: number;
  /** Receiver not registered (crashed) at delivery time. */
  droppedDown: number;
}

export interface SimNetworkOptions {
  sim: Simulator;
  /** The network forks its own stream ('net') from this, leaving the given one untouched. */
  random: SeededRandom;
  /** Every delivery is recorded here. */
  trace: TraceHash;
  faults?: Partial<NetworkFaults>;
}

/** Types the runtime reports to its own core; they never cross the wire. */
const LOCAL_ONLY: ReadonlySet<MessageType> = new Set<MessageType>(['snapStatus', 'unreachable']);

export class SimNetwork {
  private readonly sim: Simulator;
  private readonly rng: SeededRandom;
  private readonly trace: TraceHash;
  private readonly handlers = new Map<NodeId, (m: Message) => void>();
  private readonly transports = new Map<NodeId, Transport>();
  private readonly links = new Connectivity();
  private config: NetworkFaults = DEFAULT_NETWORK_FAULTS;
  private readonly counters: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    droppedByPartition: 0,
    droppedByFault: 0,
    droppedDown: 0,
  };

  constructor(options: SimNetworkOptions) {
    this.sim = options.sim;
    this.rng = options.random.fork('net');
    this.trace = options.trace;
    if (options.faults !== undefined) this.configure(options.faults);
  }

  get faults(): NetworkFaults {
    return this.config;
  }

  /** A snapshot of the counters. */
  get stats(): NetworkStats {
    return { ...this.counters };
  }

  /** Changes fault knobs from now on; omitted knobs keep their values. */
  configure(changes: Partial<NetworkFaults>): void {
    const next: NetworkFaults = { ...this.config, ...changes };
    for (const rate of [next.dropRate, next.duplicateRate, next.longDelayRate]) {
      assert(rate >= 0 && rate <= 1, () => `fault rate must be in [0, 1], got ${rate}`);
    }
    for (const range of [next.delayMs, next.longDelayMs]) {
      assert(
        Number.isFinite(range.min) && Number.isFinite(range.max) && range.min >= 0 && range.min <= range.max,
        () => `delay range must satisfy 0 <= min <= max, got [${range.min}, ${range.max}]`,
      );
    }
    this.config = Object.freeze({
      ...next,
      delayMs: Object.freeze({ ...next.delayMs }),
      longDelayMs: Object.freeze({ ...next.longDelayMs }),
    });
  }

  /** Attaches a node's inbox. A restarted node registers again after `unregister`. */
  register(id: NodeId, receive: (m: Message) => void): void {
    assert(Number.isSafeInteger(id) && id > 0, () => `node id must be a positive integer, got ${id}`);
    assert(!this.handlers.has(id), () => `node ${id} is already registered`);
    this.handlers.set(id, receive);
  }

  /** Detaches a crashed node: messages that reach it from now on are dropped. */
  unregister(id: NodeId): void {
    this.handlers.delete(id);
  }

  isRegistered(id: NodeId): boolean {
    return this.handlers.has(id);
  }

  /** The transport node `id` sends through; it may only send messages `from` itself. */
  transportFor(id: NodeId): Transport {
    let transport = this.transports.get(id);
    if (transport === undefined) {
      transport = { send: (m) => this.send(id, m) };
      this.transports.set(id, transport);
    }
    return transport;
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return this.links.canReach(from, to);
  }

  block(from: NodeId, to: NodeId): void {
    this.links.block(from, to);
  }

  unblock(from: NodeId, to: NodeId): void {
    this.links.unblock(from, to);
  }

  partition(groups: readonly (readonly NodeId[])[]): void {
    this.links.partition(groups);
  }

  isolate(id: NodeId, options: { oneWay?: IsolateMode } = {}): void {
    this.links.isolate(id, options);
  }

  connectOnly(id: NodeId, peers: readonly NodeId[]): void {
    this.links.connectOnly(id, peers);
  }

  /** Removes every partition, block, isolation and connectOnly rule (fault rates are kept). */
  heal(): void {
    this.links.heal();
  }

  private send(from: NodeId, m: Message): void {
    assert(m.from === from, () => `node ${from} sent a message from ${m.from}`);
    assert(Number.isSafeInteger(m.to) && m.to > 0, () => `message to invalid node ${m.to}`);
    assert(!LOCAL_ONLY.has(m.type), () => `local-only message type ${m.type} sent over the network`);
    const c = this.counters;
    c.sent++;
    if (!this.links.canReach(from, m.to)) {
      c.dropped++;
      c.droppedByPartition++;
      return;
    }
    // Draw order is fixed (drop, delay, duplicate, its delay) so a seed replays exactly.
    if (this.rng.chance(this.config.dropRate)) {
      c.dropped++;
      c.droppedByFault++;
      return;
    }
    const first = copy(m);
    this.sim.schedule(this.drawDelayUs(), m.to, () => this.deliver(first));
    if (this.rng.chance(this.config.duplicateRate)) {
      c.duplicated++;
      const second = copy(m);
      this.sim.schedule(this.drawDelayUs(), m.to, () => this.deliver(second));
    }
  }

  private drawDelayUs(): number {
    const range = this.rng.chance(this.config.longDelayRate) ? this.config.longDelayMs : this.config.delayMs;
    return this.rng.range(Math.round(range.min * US_PER_MS), Math.round(range.max * US_PER_MS));
  }

  private deliver(m: Message): void {
    const receive = this.handlers.get(m.to);
    if (receive === undefined) {
      this.counters.dropped++;
      this.counters.droppedDown++;
      return;
    }
    this.counters.delivered++;
    this.traceDelivery(m);
    receive(m);
  }

  private traceDelivery(m: Message): void {
    const parts: TracePart[] = [
      'deliver',
      this.sim.now(),
      m.type,
      m.from,
      m.to,
      m.term,
      m.logTerm,
      m.index,
      m.commit,
      m.reject,
      m.rejectHint,
      m.entries.length,
    ];
    for (const e of m.entries) parts.push(e.index, e.term);
    if (m.snapshot !== null) parts.push('snap', m.snapshot.meta.index, m.snapshot.meta.term);
    if (m.chunk !== null) parts.push('chunk', m.chunk.transfer, m.chunk.seq, m.chunk.last, m.chunk.data.byteLength);
    this.trace.addAll(parts);
  }
}

function copy(m: Message): Message {
  return { ...m, entries: m.entries.slice() };
}
