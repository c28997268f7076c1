/**
 * The client Endpoint of one node reached over TCP (the client protocol). It keeps one
 * connection up: dialled at construction, redialled with capped, jittered back-off whenever it
 * fails, until close(). While it is down, isUp() is false (the client's router skips the node)
 * and every call but waitApplied rejects with CLOSED, which is the Endpoint's contract for an
 * unreachable node; a call in flight when the connection dies rejects with CLOSED too.
 *
 * The leader hint comes with every answer from the node, so it is as fresh as the last call.
 */
import { TesseraError } from '../errors.ts';
import { formatAddress } from '../net/tcp/address.ts';
import { Backoff } from '../net/tcp/backoff.ts';
import { MAX_WAIT_APPLIED_MS, REQUEST_DEADLINE_MS, type ClientOp, type NodeStatusReport, type OpArgs, type OpResult } from '../net/tcp/client-protocol.ts';
import { HANDSHAKE_TIMEOUT_MS } from '../net/tcp/handshake.ts';
import type { PeerAddress, TcpTlsOptions } from '../net/tcp/tls.ts';
import type { NodeId } from '../raft/types.ts';
import type { KvBlobTable } from '../store/kv-backend.ts';
import type { KvRecord } from '../store/kv-command.ts';
import type { KvApplyResult, KvEvent, KvRangeOptions, KvRangePage } from '../store/kv-state-machine.ts';
import type { Endpoint } from './endpoint.ts';
import { RemoteConnection, RESPONSE_SLACK_MS } from './remote-connection.ts';

/** First redial delay, doubled per failure up to the cap (jittered: see Backoff). */
export const REMOTE_RECONNECT_MIN_MS = 50;
export const REMOTE_RECONNECT_MAX_MS = 2_000;

export interface RemoteEndpointOptions {
  readonly clusterId: string;
  readonly secret: Uint8Array;
  /** From a dial to the end of its handshake. Default HANDSHAKE_TIMEOUT_MS. */
  readonly handshakeTimeoutMs?: number;
  readonly reconnect?: { readonly minMs: number; readonly maxMs: number };
  /** Speak TLS to the node (see ConnectOptions.tls). */
  readonly tls?: TcpTlsOptions;
  /** The connection came up or went down (for logs). */
  readonly onState?: (event: { readonly id: NodeId; readonly up: boolean; readonly error: TesseraError | null }) => void;
}

export class RemoteEndpoint implements Endpoint {
  private connection: RemoteConnection | null = null;
  private hint: NodeId = 0;
  private retry: NodeJS.Timeout | null = null;
  private dialling = false;
  private stopped = false;
  private readonly backoff: Backoff;
  private failure: TesseraError | null = null;

  /** `initial`: an open connection to adopt (connect() probes each address with one). */
  constructor(
    readonly id: NodeId,
    readonly address: PeerAddress,
    private readonly o: RemoteEndpointOptions,
    initial: RemoteConnection | null = null,
  ) {
    const r = o.reconnect ?? { minMs: REMOTE_RECONNECT_MIN_MS, maxMs: REMOTE_RECONNECT_MAX_MS };
    this.backoff = new Backoff(r.minMs, r.maxMs);
    if (initial !== null && !initial.closed && initial.nodeId === id) this.adopt(initial);
    else {
      initial?.close();
      this.dial();
    }
  }

  isUp(): boolean {
    return this.connection !== null;
  }

  leaderHint(): NodeId {
    return this.hint;
  }

  /** Why the last dial or connection failed (null while up, or before any failure). */
  get lastError(): TesseraError | null {
    return this.failure;
  }

  propose(command: Uint8Array): Promise<KvApplyResult> {
    return this.call('propose', [command]);
  }

  readBarrier(): Promise<number> {
    return this.call('readBarrier', []);
  }

  leaseReadBarrier(): Promise<number> {
    return this.call('leaseReadBarrier', []);
  }

  get(key: Uint8Array): Promise<KvRecord | null> {
    return this.call('get', [key]);
  }

  range(start: Uint8Array, end: Uint8Array | null, options: KvRangeOptions): Promise<KvRangePage> {
    return this.call('range', [start, end, options]);
  }

  events(fromRevision: number, limit: number, fromSub: number): Promise<KvEvent[]> {
    return this.call('events', [fromRevision, limit, fromSub]);
  }

  readTable(table: KvBlobTable, key: Uint8Array): Promise<Uint8Array | null> {
    return this.call('readTable', [table, key]);
  }

  /** Long-polls the node (at most MAX_WAIT_APPLIED_MS per call); 0 while down or if the call fails, as the contract asks. */
  waitApplied(after: number, timeoutMs: number): Promise<number> {
    const wait = Math.max(0, Math.min(MAX_WAIT_APPLIED_MS, Math.ceil(timeoutMs)));
    return this.call('waitApplied', [after, wait], wait + RESPONSE_SLACK_MS).catch(() => 0);
  }

  /** The node's view of the cluster (`tessera status`). */
  status(): Promise<NodeStatusReport> {
    return this.call('status', []);
  }

  /** Stops redialling and closes the connection; later calls fail with CLOSED. Idempotent. */
  close(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    const c = this.connection;
    this.connection = null;
    c?.close();
  }

  private call<K extends ClientOp>(op: K, args: OpArgs<K>, deadlineMs = REQUEST_DEADLINE_MS + RESPONSE_SLACK_MS): Promise<OpResult<K>> {
    const c = this.connection;
    if (c === null) return Promise.reject(this.downError());
    return c.request(op, args, deadlineMs);
  }

  private downError(): TesseraError {
    const where = `node ${this.id} at ${formatAddress(this.address)}`;
    if (this.stopped) return new TesseraError('CLOSED', `${where}: endpoint closed`);
    const why = this.failure === null ? 'not connected yet' : this.failure.message;
    return new TesseraError('CLOSED', `${where} is unreachable: ${why}`, { cause: this.failure ?? undefined });
  }

  private dial(): void {
    if (this.stopped || this.dialling || this.connection !== null) return;
    this.dialling = true;
    RemoteConnection.open({
      address: this.address,
      clusterId: this.o.clusterId,
      secret: this.o.secret,
      expectedId: this.id,
      handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      ...(this.o.tls && { tls: this.o.tls }),
    }).then(
      (c) => {
        this.dialling = false;
        if (this.stopped) c.close();
        else this.adopt(c);
      },
      (e: unknown) => {
        this.dialling = false;
        this.lost(e instanceof TesseraError ? e : new TesseraError('CLOSED', String(e), { cause: e }), false);
      },
    );
  }

  private adopt(c: RemoteConnection): void {
    this.connection = c;
    this.failure = null;
    this.backoff.reset();
    c.onLeader = (leader) => (this.hint = leader);
    c.onClose = (error) => {
      if (this.connection === c) this.connection = null;
      this.lost(error, true);
    };
    // The connection may have failed before the hooks were set.
    if (c.closed) {
      this.connection = null;
      this.lost(new TesseraError('CLOSED', `connection to node ${this.id} lost`), true);
      return;
    }
    this.o.onState?.({ id: this.id, up: true, error: null });
  }

  private lost(error: TesseraError, wasUp: boolean): void {
    if (this.stopped) return;
    this.failure = error;
    if (wasUp) this.o.onState?.({ id: this.id, up: false, error });
    this.retry = setTimeout(() => {
      this.retry = null;
      this.dial();
    }, this.backoff.next());
  }
}
