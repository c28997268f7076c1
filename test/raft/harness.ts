/**
 * A minimal synchronous world for the pure core: instant durable storage and a network that
 * delivers queued messages in FIFO order, with per-link drop filters. Modelled on etcd's
 * raft_test.go `network`.
 */
import { TesseraError } from '../../src/errors.ts';
import type { Random } from '../../src/node/ports.ts';
import { raftConfig, type RaftConfig } from '../../src/raft/config.ts';
import { Raft, type RaftStorage } from '../../src/raft/raft.ts';
import { type Entry, EMPTY_HARD_STATE, type HardState, type Message, type NodeId, type ReadState, type Snapshot, entrySize } from '../../src/raft/types.ts';

export class MemStorage implements RaftStorage {
  hardState: HardState = EMPTY_HARD_STATE;
  snap: Snapshot | null = null;
  /** ents[0] is a dummy at the snapshot index (as in etcd's MemoryStorage). */
  ents: Entry[] = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];

  initialState() {
    return { hardState: this.hardState, snapshot: this.snap?.meta ?? { index: 0, term: 0, conf: { voters: [], learners: [] } } };
  }
  private get base(): number {
    return this.ents[0]!.index;
  }
  firstIndex(): number {
    return this.base + 1;
  }
  lastIndex(): number {
    return this.base + this.ents.length - 1;
  }
  term(i: number): number {
    if (i < this.base) throw new TesseraError('COMPACTED', `${i}`);
    if (i > this.lastIndex()) throw new TesseraError('UNAVAILABLE', `${i}`);
    return this.ents[i - this.base]!.term;
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.base) throw new TesseraError('COMPACTED', `${lo}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.base]!;
      if (out.length > 0 && bytes + entrySize(e) > maxBytes) break;
      bytes += entrySize(e);
      out.push(e);
    }
    return out;
  }
  snapshot(): Snapshot | null {
    return this.snap;
  }
  /** Sets up a log directly: entries with the given terms at indexes 1..n. */
  static withTerms(terms: number[]): MemStorage {
    const s = new MemStorage();
    terms.forEach((term, i) => s.ents.push({ term, index: i + 1, type: 0, data: new Uint8Array(0) }));
    return s;
  }
  append(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0]!.index;
    this.ents = this.ents.slice(0, first - this.base);
    this.ents.push(...ents);
  }
  applySnapshot(s: Snapshot): void {
    this.snap = s;
    this.ents = [{ term: s.meta.term, index: s.meta.index, type: 0, data: new Uint8Array(0) }];
  }
  /** Compacts the log up to `index` with a snapshot whose data is `data`. */
  compact(index: number, data: Uint8Array, voters: NodeId[]): void {
    const term = this.term(index);
    this.snap = { meta: { index, term, conf: { voters, learners: [] } }, data };
    this.ents = this.ents.slice(index - this.base);
  }
}

/** Deterministic Random for core tests (xorshift32). */
export class TestRandom implements Random {
  constructor(private s = 0x9e3779b9) {}
  nextUint32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  nextInt(max: number): number {
    return this.nextUint32() % max;
  }
  nextFloat(): number {
    return this.nextUint32() / 2 ** 32;
  }
}

export interface TestNode {
  raft: Raft;
  storage: MemStorage;
  applied: Entry[];
  readStates: ReadState[];
}

type Filter = (m: Message) => boolean;

export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Every message delivered, in order (for counting round trips). */
  readonly delivered: Message[] = [];
  private queue: Message[] = [];
  private dropFilters: Filter[] = [];

  constructor(
    readonly ids: NodeId[],
    opts: { cfg?: Partial<RaftConfig>; storages?: Map<NodeId, MemStorage>; seed?: number } = {},
  ) {
    for (const id of ids) {
      const storage = opts.storages?.get(id) ?? new MemStorage();
      const cfg = raftConfig({ id, voters: ids, ...opts.cfg });
      this.nodes.set(id, { raft: new Raft(cfg, storage, new TestRandom((opts.seed ?? 1) * 7919 + id)), storage, applied: [], readStates: [] });
    }
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): Raft {
    return this.node(id).raft;
  }

  /** Drops messages for which `f` is true until cleared. */
  drop(f: Filter): void {
    this.dropFilters.push(f);
  }

  isolate(id: NodeId): void {
    this.drop((m) => m.from === id || m.to === id);
  }

  cut(a: NodeId, b: NodeId): void {
    this.drop((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
  }

  heal(): void {
    this.dropFilters = [];
  }

  /** Processes every node's Ready (persist instantly, queue messages, apply) until quiet. */
  private collect(): void {
    for (const [, n] of this.nodes) {
      while (n.raft.hasReady()) {
        const rd = n.raft.ready();
        if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.hardState = rd.hardState;
        this.queue.push(...rd.messages);
        n.applied.push(...rd.committed);
        n.readStates.push(...rd.readStates);
        n.raft.advance(rd);
      }
    }
  }

  /** Delivers messages until none are left (or `limit` deliveries). */
  deliverAll(limit = 100_000): void {
    this.collect();
    let n = 0;
    while (this.queue.length > 0) {
      if (++n > limit) throw new Error('network did not quiesce');
      const m = this.queue.shift()!;
      if (this.dropFilters.some((f) => f(m))) continue;
      const to = this.nodes.get(m.to);
      if (!to) continue;
      this.delivered.push(m);
      to.raft.step(m);
      this.collect();
    }
  }

  /** Delivers one message by hand. */
  send(m: Message): void {
    this.node(m.to).raft.step(m);
    this.deliverAll();
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.raft(id).tick();
    this.deliverAll();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids) this.raft(id).tick();
      this.deliverAll();
    }
  }

  campaign(id: NodeId): void {
    this.raft(id).campaignNow();
    this.deliverAll();
  }

  propose(id: NodeId, text: string): { index: number; term: number } {
    const p = this.raft(id).propose(new TextEncoder().encode(text));
    this.deliverAll();
    return p;
  }

  leaders(): NodeId[] {
    return this.ids.filter((id) => this.raft(id).role === 'leader');
  }

  committedTexts(id: NodeId): string[] {
    return this.node(id).applied.filter((e) => e.type === 0).map((e) => new TextDecoder().decode(e.data));
  }
}
