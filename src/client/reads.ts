/**
 * Read barriers by consistency level. Every level can be served by any node (a follower
 * forwards ReadIndex, and a lease read, to the leader); the router tries the leader first,
 * which saves that hop and is where a lease read is answered without a heartbeat round.
 */
import { TesseraError } from '../errors.ts';
import type { Endpoint } from './endpoint.ts';
import { now } from './lifetime.ts';
import type { Consistency } from './types.ts';

const LEVELS: readonly Consistency[] = ['linearizable', 'lease', 'local'];

export function checkConsistency(c: Consistency): Consistency {
  if (!LEVELS.includes(c)) throw new TesseraError('INVALID_ARGUMENT', `consistency must be one of ${LEVELS.join(', ')}, got ${String(c)}`);
  return c;
}

/** How long one wait for a node to reach a revision lasts before it is re-checked. */
const REVISION_POLL_MS = 1000;

/**
 * Makes `ep` ready for a read at level `c`; resolves with the revision the read is at least as
 * fresh as. Every level also waits for the node to have applied `minRevision` (the client's own
 * writes and reads so far), so even a local read sees the client's writes: a node acknowledges
 * a write as soon as its result is computed, a moment before its reads include it.
 */
export async function barrier(ep: Endpoint, c: Consistency, minRevision = 0, deadline = Infinity): Promise<number> {
  let index = 0;
  switch (c) {
    case 'linearizable':
      index = await ep.readBarrier();
      break;
    case 'lease':
      index = await ep.leaseReadBarrier();
      break;
    case 'local':
      break;
  }
  await reachRevision(ep, minRevision, deadline);
  return index;
}

/** Resolves once `ep` has applied `revision`; TIMEOUT at the deadline, CLOSED if it goes down. */
export async function reachRevision(ep: Endpoint, revision: number, deadline: number): Promise<void> {
  if (revision <= 0) return;
  for (let applied = -1; applied < revision; ) {
    const left = deadline - now();
    if (left <= 0) throw new TesseraError('TIMEOUT', `node ${ep.id} did not reach revision ${revision}`);
    applied = await ep.waitApplied(revision - 1, Math.min(left, REVISION_POLL_MS));
    if (applied === 0 && revision > 0) throw new TesseraError('CLOSED', `node ${ep.id} is down`);
  }
}
