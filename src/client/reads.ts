/**
 * Read barriers by consistency level. Every level can be served by any node (a follower
 * forwards ReadIndex, and a lease read, to the leader); the router tries the leader first,
 * which saves that hop and is where a lease read is answered without a heartbeat round.
 */
import { TesseraError } from '../errors.ts';
import type { Endpoint } from './endpoint.ts';
import type { Consistency } from './types.ts';

const LEVELS: readonly Consistency[] = ['linearizable', 'lease', 'local'];

export function checkConsistency(c: Consistency): Consistency {
  if (!LEVELS.includes(c)) throw new TesseraError('INVALID_ARGUMENT', `consistency must be one of ${LEVELS.join(', ')}, got ${String(c)}`);
  return c;
}

/**
 * Makes `ep` ready for a read at level `c`; resolves with the revision the read is at least as
 * fresh as (0 for local reads, which promise nothing).
 */
export function barrier(ep: Endpoint, c: Consistency): Promise<number> {
  switch (c) {
    case 'linearizable':
      return ep.readBarrier();
    case 'lease':
      return ep.leaseReadBarrier();
    case 'local':
      return Promise.resolve(0);
  }
}
