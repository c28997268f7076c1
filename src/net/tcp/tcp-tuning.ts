/**
 * Time and memory bounds of the TCP network. Each is a named default; tests shrink the times.
 *
 * Memory per peer is bounded by what its two send queues may hold plus one frame in the
 * socket's own buffer per lane: a peer that stops reading costs at most that, and further
 * messages to it are dropped (Raft retransmits what matters).
 */
import { HANDSHAKE_TIMEOUT_MS } from './handshake.ts';

/** Control lane (heartbeats, votes, appends): deep enough for a full Raft inflight window. */
export const CONTROL_QUEUE_MAX_MESSAGES = 4096;
export const CONTROL_QUEUE_MAX_BYTES = 32 * 1024 * 1024;
/** Bulk lane (snapshot chunks): a few chunks of the snapshot window are enough to keep the pipe full. */
export const BULK_QUEUE_MAX_MESSAGES = 64;
export const BULK_QUEUE_MAX_BYTES = 16 * 1024 * 1024;
/** First reconnect delay, doubled on every failed attempt up to the cap; jittered so peers do not dial in lockstep. */
export const RECONNECT_BASE_MS = 50;
export const RECONNECT_MAX_MS = 5_000;
/** Inbound connections still in their handshake; beyond this, new ones are refused at once. */
export const MAX_PENDING_HANDSHAKES = 64;
/** TCP keep-alive probes start after this much silence, to find half-open connections. */
export const KEEPALIVE_MS = 10_000;
/** Distinct (peer, reason) pairs remembered to log each once; the memory of a scan from many addresses stays bounded. */
export const MAX_LOG_KEYS = 1024;

export interface TcpTuning {
  readonly controlQueueMaxMessages: number;
  readonly controlQueueMaxBytes: number;
  readonly bulkQueueMaxMessages: number;
  readonly bulkQueueMaxBytes: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
}

export const DEFAULT_TCP_TUNING: TcpTuning = Object.freeze({
  controlQueueMaxMessages: CONTROL_QUEUE_MAX_MESSAGES,
  controlQueueMaxBytes: CONTROL_QUEUE_MAX_BYTES,
  bulkQueueMaxMessages: BULK_QUEUE_MAX_MESSAGES,
  bulkQueueMaxBytes: BULK_QUEUE_MAX_BYTES,
  reconnectBaseMs: RECONNECT_BASE_MS,
  reconnectMaxMs: RECONNECT_MAX_MS,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  maxPendingHandshakes: MAX_PENDING_HANDSHAKES,
});
