/**
 * Value types of the pure Raft core. Everything here is plain data: it crosses the
 * core boundary (Ready, step) and is persisted or sent by the runtime.
 */

/** A member id. 0 means "none" (no vote, no known leader). */
export type NodeId = number;
export const NONE: NodeId = 0;

export enum EntryType {
  /** A client command for the state machine. */
  Normal = 0,
  /** The empty entry a new leader appends so it can commit entries of earlier terms (§5.4.2). */
  Empty = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

/** Membership as data, so joint consensus and learners can be added without touching quorum code. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers (0 = no snapshot). */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** State-machine image at meta.index. Opaque to the core. */
  readonly data: Uint8Array;
}

export type MessageType =
  | 'app' // append entries (also the probe)
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap' // install snapshot
  | 'snapStatus' // local only: runtime reports the outcome of sending a snapshot
  | 'unreachable' // local only: runtime reports a peer it could not reach
  | 'timeoutNow' // leader transfer: start an election now, ignoring leases
  | 'readIndex' // follower forwards a read to the leader
  | 'readIndexResp'
  | 'snapChunk' // runtime only: one piece of a streamed snapshot; never stepped into the core
  | 'snapChunkAck'; // runtime only: the receiver has written a piece (or, with reject, gave up)

/** A piece of a snapshot image streamed between runtimes (the core sees only the metadata). */
export interface SnapshotChunk {
  /** Identifies one transfer: a retried snapshot is a new transfer. */
  readonly transfer: string;
  readonly seq: number;
  readonly last: boolean;
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * One flat message shape (as in etcd's raftpb.Message): fields a type does not use keep
 * their zero value, which keeps encoding, hashing and copying trivial.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry at `index`; appResp reject: term of the follower's conflicting entry. */
  logTerm: number;
  /** app: index before `entries`; appResp: last matching index, or the hint on reject. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** appResp reject: the follower's last index (cap for the leader's next probe). */
  rejectHint: number;
  snapshot: Snapshot | null;
  /** heartbeat / readIndex: the read context being confirmed. */
  context: string;
  /** snapChunk / snapChunkAck only. */
  chunk: SnapshotChunk | null;
}

/** A confirmed read: once applied >= index, a read of the state machine is linearizable. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

export type RaftRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly leader: NodeId;
  readonly role: RaftRole;
}

/**
 * Work the runtime must do, in this order (DESIGN.md ordering contract):
 * 1. persist `snapshot`, `hardState` and `entries` (durably);
 * 2. send `messages`;
 * 3. apply `committed` in order, then serve `readStates` whose index is applied;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to'>): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: '',
    chunk: null,
    ...fields,
  };
}

/** Bytes an entry costs in flow-control and size limits. Deterministic and cheap. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}
