/**
 * The bounds a node puts on its client connections, as one object so tests can shrink them.
 * Each default is a named constant of client-protocol.ts or tcp-tuning.ts.
 */
import { HANDSHAKE_TIMEOUT_MS } from './handshake.ts';
import {
  MAX_CLIENT_BACKLOG_BYTES,
  MAX_CLIENT_CONNECTIONS,
  MAX_CLIENT_FRAME_BYTES,
  MAX_INFLIGHT_REQUESTS,
  MAX_PAGE_BYTES,
  REQUEST_DEADLINE_MS,
} from './client-protocol.ts';
import { MAX_PENDING_HANDSHAKES } from './tcp-tuning.ts';

export interface ClientLimits {
  /** From accept to the end of the handshake (peers' connections: to their first frame). */
  readonly handshakeTimeoutMs: number;
  /** Connections not yet past their first frame or handshake; more are refused at once. */
  readonly maxPendingConnections: number;
  readonly maxClientConnections: number;
  readonly maxFrameBytes: number;
  readonly maxInflightRequests: number;
  readonly requestDeadlineMs: number;
  readonly maxBacklogBytes: number;
  readonly maxPageBytes: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = Object.freeze({
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  maxPendingConnections: MAX_PENDING_HANDSHAKES,
  maxClientConnections: MAX_CLIENT_CONNECTIONS,
  maxFrameBytes: MAX_CLIENT_FRAME_BYTES,
  maxInflightRequests: MAX_INFLIGHT_REQUESTS,
  requestDeadlineMs: REQUEST_DEADLINE_MS,
  maxBacklogBytes: MAX_CLIENT_BACKLOG_BYTES,
  maxPageBytes: MAX_PAGE_BYTES,
});
