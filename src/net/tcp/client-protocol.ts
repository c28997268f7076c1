/**
 * The client protocol: how a remote client talks to one node over TCP. It shares the node's
 * listen port with the peer protocol (client-server.ts tells the two apart by the first frame)
 * and its authentication with it (the HMAC handshake of handshake.ts, on its own channel).
 *
 *   client -> node   preamble  ["tessera/client", CLIENT_PROTOCOL_VERSION, clusterId]
 *   node -> client   hello        \
 *   client -> node   challenge     |  handshake.ts with the roles reversed: the node dials the
 *   node -> client   response      |  handshake (it says who it is), the client answers it
 *   client -> node   welcome      /
 *   client -> node   {id, op, args}                           (any number in flight, up to a bound)
 *   node -> client   {id, ok: true, value, leader}
 *                    {id, ok: false, error: {code, message, leaderHint}, leader}
 *
 * Why the roles are reversed: the handshake's dialler must name the node it dials, and a client
 * given only `host:port` does not know it yet. With the node dialling the handshake, the client
 * learns the node id from an authenticated hello (the node's proof binds it), at no extra round
 * trip. Clients all use one principal id, CLIENT_PRINCIPAL_ID, which no node may have, on
 * CLIENT_CHANNEL, which no peer lane uses: the proofs of the two protocols can never be mixed up.
 *
 * `leader` on every response is the node's leader hint, so a client keeps its routing fresh
 * without asking. Errors keep their TesseraError code (the client's retries depend on it).
 * A response with id 0 is about the connection (a protocol error), sent just before closing it.
 */
import type { TesseraErrorCode } from '../../errors.ts';
import type { NodeId } from '../../raft/types.ts';
import type { KvBlobTable } from '../../store/kv-backend.ts';
import type { KvRecord } from '../../store/kv-command.ts';
import type { KvApplyResult, KvEvent, KvRangeOptions, KvRangePage } from '../../store/kv-state-machine.ts';
import { MAX_FRAME_BYTES } from './frame.ts';
import type { PeerAddress } from './tls.ts';

export const CLIENT_PROTOCOL_VERSION = 1;
/** The cluster id `tessera serve` and connect() use when none is given. */
export const DEFAULT_CLUSTER_ID = 'tessera';
/** First element of the preamble; a peer's first frame (a handshake hello) starts with a number. */
export const CLIENT_PREAMBLE_TAG = 'tessera/client';
/** The handshake channel of client connections (peer lanes use 0 and 1). */
export const CLIENT_CHANNEL = 16;
/** The identity every client authenticates as: node ids must be below it. */
export const CLIENT_PRINCIPAL_ID = Number.MAX_SAFE_INTEGER;

/** Largest request or response frame: a maximal command, or a page, plus their framing. */
export const MAX_CLIENT_FRAME_BYTES = MAX_FRAME_BYTES;
/**
 * Requests of one connection the node works on at once. A request past it is refused at once
 * (OVERLOADED: nothing was done, retry after a back-off); RemoteEndpoint queues rather than send
 * one past this default, so it meets OVERLOADED only from a node configured with a lower bound.
 */
export const MAX_INFLIGHT_REQUESTS = 128;
/** A request the node has not answered by then is answered TIMEOUT (the node's own timeouts are shorter). */
export const REQUEST_DEADLINE_MS = 30_000;
/** A waitApplied long-poll returns after at most this long (with the applied index then). */
export const MAX_WAIT_APPLIED_MS = 10_000;
/**
 * Range and event pages are cut to about this many bytes (never below one record): a page of
 * large values must still fit one frame. A cut page says `more`, so readers just go on.
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Authenticated client connections per node; more are refused at their preamble. */
export const MAX_CLIENT_CONNECTIONS = 1024;
/** Unsent response bytes a connection may hold before the node stops reading its requests. */
export const MAX_CLIENT_BACKLOG_BYTES = 32 * 1024 * 1024;

/** What a node reports about itself (the `status` op, and `tessera status`). */
export interface NodeStatusReport {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly role: string;
  readonly term: number;
  /** The leader it follows (itself if leading), 0 if unknown. */
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  /** Every voter, with the address clients and peers reach it at (null if this node has none). */
  readonly members: readonly { readonly id: NodeId; readonly address: PeerAddress | null }[];
  /** Leader only: how far each follower's log matches. */
  readonly progress: readonly { readonly id: NodeId; readonly match: number; readonly next: number; readonly state: string }[];
}

/** Each op: its arguments and its result, as the Endpoint methods of the same names. */
export interface ClientOps {
  propose: { args: [command: Uint8Array]; result: KvApplyResult };
  readBarrier: { args: []; result: number };
  leaseReadBarrier: { args: []; result: number };
  get: { args: [key: Uint8Array]; result: KvRecord | null };
  range: { args: [start: Uint8Array, end: Uint8Array | null, options: KvRangeOptions]; result: KvRangePage };
  events: { args: [fromRevision: number, limit: number, fromSub: number]; result: KvEvent[] };
  readTable: { args: [table: KvBlobTable, key: Uint8Array]; result: Uint8Array | null };
  waitApplied: { args: [after: number, timeoutMs: number]; result: number };
  status: { args: []; result: NodeStatusReport };
}

export type ClientOp = keyof ClientOps;
export type OpArgs<K extends ClientOp> = ClientOps[K]['args'];
export type OpResult<K extends ClientOp> = ClientOps[K]['result'];

export const CLIENT_OPS: readonly ClientOp[] = Object.freeze([
  'propose',
  'readBarrier',
  'leaseReadBarrier',
  'get',
  'range',
  'events',
  'readTable',
  'waitApplied',
  'status',
] satisfies ClientOp[]);

/**
 * What a node serves to remote clients: the client Endpoint's calls, with its error contract
 * (CLOSED when down, NOT_LEADER with a hint, ...), plus its status.
 */
export type ClientService = ClientOpHandlers & { leaderHint(): NodeId };

export type ClientOpHandlers = { readonly [K in ClientOp]: (...args: OpArgs<K>) => Promise<OpResult<K>> };

export interface ClientRequest<K extends ClientOp = ClientOp> {
  readonly id: number;
  readonly op: K;
  readonly args: OpArgs<K>;
}

export interface WireError {
  readonly code: TesseraErrorCode;
  readonly message: string;
  readonly leaderHint: NodeId;
}
