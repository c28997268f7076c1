/**
 * Streams state-machine snapshots between runtimes in bounded chunks, so neither side ever
 * holds a whole image in memory. The core only decides *that* a follower needs a snapshot
 * (a 'snap' message carrying metadata); the leader's runtime turns that into a transfer:
 *
 *   leader                                   follower
 *   open a consistent reader                 seq 0: beginRestore(meta) into a staging area
 *   send chunks, at most `window` unacked -> write(chunk), ack (seq)
 *   on each ack send more                    last chunk: hand the core the 'snap' metadata;
 *                                            the runtime swaps the staged state in (finish)
 *                                            only if the core accepts it
 *
 * The network may lose, duplicate or reorder chunks. A gap makes the follower drop its
 * staging; a transfer that stops making progress is abandoned by the leader, which reports the
 * failure to its core (snapStatus reject) so the core retries with a fresh transfer.
 */
import type { SnapshotReader, SnapshotWriter, StateMachine } from './ports.ts';
import { type Message, type NodeId, type SnapshotChunk, type SnapshotMeta, message } from '../raft/types.ts';

export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/** Unacknowledged chunks in flight per transfer: memory per transfer is window x chunk size. */
export const DEFAULT_SNAPSHOT_WINDOW = 4;

interface SentChunk {
  readonly seq: number;
  readonly last: boolean;
  readonly data: Uint8Array;
}

interface OutgoingTransfer {
  readonly id: string;
  readonly to: NodeId;
  readonly term: number;
  readonly meta: SnapshotMeta;
  readonly reader: SnapshotReader;
  /** Chunks sent and not yet acknowledged, oldest first: kept for retransmission (at most `window`). */
  unacked: SentChunk[];
  nextSeq: number;
  /** The final chunk has been read. */
  finished: boolean;
  lastProgressMs: number;
  lastSendMs: number;
}

export interface SenderOptions {
  readonly self: NodeId;
  readonly chunkBytes: number;
  readonly window: number;
  /** Unacknowledged chunks are sent again after this long without an acknowledgement. */
  readonly retransmitMs: number;
  /** A transfer with no acknowledgement for this long is abandoned. */
  readonly stallMs: number;
  readonly send: (m: Message) => void;
  /** Tells the core how a transfer ended (a local snapStatus message). */
  readonly report: (to: NodeId, failed: boolean) => void;
}

export class SnapshotSender {
  private readonly transfers = new Map<NodeId, OutgoingTransfer>();
  private seq = 0;

  constructor(private readonly o: SenderOptions) {}

  /** The core asked for a snapshot to be sent to `to`. One transfer per follower at a time. */
  start(to: NodeId, term: number, sm: StateMachine, conf: SnapshotMeta['conf'], nowMs: number): void {
    if (this.transfers.has(to)) return; // the one under way will answer the core's need
    const reader = sm.openSnapshot();
    const meta: SnapshotMeta = { index: reader.index, term: reader.term, conf };
    const t: OutgoingTransfer = {
      id: `${this.o.self}:${++this.seq}`,
      to,
      term,
      meta,
      reader,
      unacked: [],
      nextSeq: 0,
      finished: false,
      lastProgressMs: nowMs,
      lastSendMs: nowMs,
    };
    this.transfers.set(to, t);
    this.fill(t, nowMs);
  }

  /** Acknowledgements are cumulative: every chunk up to chunk.seq is written. */
  onAck(m: Message, nowMs: number): void {
    const t = this.transfers.get(m.from);
    const c = m.chunk;
    if (!t || !c || c.transfer !== t.id) return; // from an abandoned transfer
    if (m.reject) return this.end(t, true);
    const before = t.unacked.length;
    t.unacked = t.unacked.filter((u) => u.seq > c.seq);
    if (t.unacked.length === before) return; // a duplicate
    t.lastProgressMs = nowMs;
    if (t.finished && t.unacked.length === 0) return this.end(t, false);
    this.fill(t, nowMs);
  }

  /** Retransmits stalled chunks and abandons transfers that stopped making progress. Call periodically. */
  tick(nowMs: number): void {
    for (const t of [...this.transfers.values()]) {
      if (nowMs - t.lastProgressMs >= this.o.stallMs) {
        this.end(t, true);
      } else if (nowMs - t.lastSendMs >= this.o.retransmitMs) {
        for (const u of t.unacked) this.sendChunk(t, u);
        t.lastSendMs = nowMs;
      }
    }
  }

  /** Drops every transfer (leadership lost, node stopping) without reporting to the core. */
  abortAll(): void {
    for (const t of this.transfers.values()) t.reader.close();
    this.transfers.clear();
  }

  get active(): number {
    return this.transfers.size;
  }

  private fill(t: OutgoingTransfer, nowMs: number): void {
    while (!t.finished && t.unacked.length < this.o.window) {
      const data = t.reader.read(this.o.chunkBytes);
      if (data === null) {
        // The image ended: an empty final chunk says so (and an empty image is just that chunk).
        this.push(t, { seq: t.nextSeq++, last: true, data: new Uint8Array(0) }, nowMs);
        t.finished = true;
      } else {
        this.push(t, { seq: t.nextSeq++, last: false, data }, nowMs);
      }
    }
  }

  private push(t: OutgoingTransfer, u: SentChunk, nowMs: number): void {
    t.unacked.push(u);
    t.lastSendMs = nowMs;
    this.sendChunk(t, u);
  }

  private sendChunk(t: OutgoingTransfer, u: SentChunk): void {
    this.o.send(
      message({ type: 'snapChunk', from: this.o.self, to: t.to, term: t.term, chunk: { transfer: t.id, seq: u.seq, last: u.last, meta: t.meta, data: u.data } }),
    );
  }

  private end(t: OutgoingTransfer, failed: boolean): void {
    t.reader.close();
    this.transfers.delete(t.to);
    this.o.report(t.to, failed);
  }
}

interface IncomingTransfer {
  readonly id: string;
  readonly from: NodeId;
  readonly meta: SnapshotMeta;
  readonly writer: SnapshotWriter;
  /** Next chunk to write. */
  nextSeq: number;
  /** Chunks that arrived ahead of nextSeq (at most window - 1 of them). */
  readonly early: Map<number, SnapshotChunk>;
}

export interface ReceiverOptions {
  readonly self: NodeId;
  readonly window: number;
  readonly send: (m: Message) => void;
}

export class SnapshotReceiver {
  private current: IncomingTransfer | null = null;
  /** A complete image the core accepted, waiting for the Ready that installs it. */
  private staged: IncomingTransfer | null = null;
  /** The last transfer received whole: retransmissions of it (our final ack was lost) are acked again. */
  private completed: { readonly id: string; readonly lastSeq: number } | null = null;

  constructor(private readonly o: ReceiverOptions) {}

  /**
   * Handles one chunk. Returns the snapshot metadata once the whole image is written (the
   * caller then hands it to the core), else null.
   */
  onChunk(m: Message, sm: StateMachine, committed: number): SnapshotMeta | null {
    const c = m.chunk;
    if (!c) return null;
    const ack = (seq: number, reject: boolean) =>
      this.o.send(
        message({
          type: 'snapChunkAck',
          from: this.o.self,
          to: m.from,
          term: m.term,
          reject,
          chunk: { transfer: c.transfer, seq, last: false, meta: c.meta, data: new Uint8Array(0) },
        }),
      );
    if (this.completed?.id === c.transfer) {
      ack(this.completed.lastSeq, false);
      return null;
    }
    if (this.current?.id !== c.transfer) {
      this.abortCurrent();
      // Already have everything it covers: refuse; the leader's core learns our progress anyway.
      if (c.meta.index <= committed) {
        ack(c.seq, true);
        return null;
      }
      this.current = { id: c.transfer, from: m.from, meta: c.meta, writer: sm.beginRestore(c.meta), nextSeq: 0, early: new Map() };
    }
    const t = this.current!;
    if (c.seq >= t.nextSeq + this.o.window) {
      // The sender never has more than `window` chunks unacknowledged: this is not our transfer's shape.
      this.abortCurrent();
      ack(c.seq, true);
      return null;
    }
    if (c.seq > t.nextSeq) t.early.set(c.seq, c);
    let last = false;
    let next: SnapshotChunk | undefined = c.seq === t.nextSeq ? c : undefined;
    while (next) {
      t.early.delete(next.seq);
      try {
        t.writer.write(next.data);
      } catch {
        // A bad image (its checksum failed): a failed transfer, which the leader retries.
        this.abortCurrent();
        ack(c.seq, true);
        return null;
      }
      t.nextSeq++;
      last = next.last;
      next = t.early.get(t.nextSeq);
    }
    ack(t.nextSeq - 1, false);
    if (!last) return null;
    this.completed = { id: t.id, lastSeq: t.nextSeq - 1 };
    this.current = null;
    this.staged?.writer.abort();
    this.staged = t;
    return t.meta;
  }
  /**
   * The core accepted a snapshot at `index` (it is in a Ready): swap the staged image in.
   * Returns false when nothing staged matches (the caller must not claim it was installed).
   */
  install(index: number): boolean {
    const t = this.staged;
    if (!t || t.meta.index !== index) return false;
    this.staged = null;
    t.writer.finish();
    return true;
  }

  /** The core turned the staged snapshot down (it was stale): discard it. */
  discardStaged(): void {
    this.staged?.writer.abort();
    this.staged = null;
  }

  abortAll(): void {
    this.abortCurrent();
    this.discardStaged();
  }

  private abortCurrent(): void {
    this.current?.writer.abort();
    this.current = null;
  }
}
