/**
 * A range read as an async iterator, one page per request. The first page follows a read
 * barrier at the requested consistency on the node that serves it, and later pages stay on
 * that node; if it fails, the next node gets its own barrier before serving the rest (from the
 * last key seen), so pages never go back in time. The pages are not one snapshot: a key written
 * during the iteration shows its old or its new value, depending on when its page was read.
 */
import { TesseraError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import { DEFAULT_RANGE_LIMIT, MAX_RANGE_LIMIT } from '../store/kv-limits.ts';
import type { KvRangePage } from '../store/kv-state-machine.ts';
import { now } from './lifetime.ts';
import { barrier } from './reads.ts';
import type { Router } from './router.ts';
import type { Consistency } from './types.ts';
import { toEntry, type KvEntry } from './values.ts';

export interface RangeRequest {
  readonly start: Uint8Array;
  readonly end: Uint8Array | null;
  readonly consistency: Consistency;
  readonly node?: NodeId;
  readonly limit?: number;
  readonly pageSize?: number;
  readonly timeoutMs: number;
}

export function checkRangeSizes(limit: number | undefined, pageSize: number | undefined): void {
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new TesseraError('INVALID_ARGUMENT', `range limit must be a positive integer, got ${limit}`);
  }
  if (pageSize !== undefined && (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_RANGE_LIMIT)) {
    throw new TesseraError('INVALID_ARGUMENT', `range pageSize must be in 1..${MAX_RANGE_LIMIT}, got ${pageSize}`);
  }
}

export async function* rangeEntries(
  router: Router,
  observe: (revision: number) => void,
  observed: () => number,
  req: RangeRequest,
): AsyncGenerator<KvEntry, void, undefined> {
  const pageSize = req.pageSize ?? DEFAULT_RANGE_LIMIT;
  let left = req.limit ?? Number.POSITIVE_INFINITY;
  let after: Uint8Array | undefined;
  /** The node whose barrier the pages so far rely on (0: none yet). */
  let fresh: NodeId = 0;
  let node = req.node;
  for (;;) {
    const limit = Math.min(pageSize, left);
    const page = await router.run<KvRangePage>(
      { target: 'any', ...(node !== undefined && { prefer: node }), deadline: now() + req.timeoutMs, what: 'range' },
      async (ep) => {
        if (ep.id !== fresh) {
          observe(await barrier(ep, req.consistency, observed(), now() + req.timeoutMs));
          fresh = ep.id;
        }
        node = ep.id;
        return ep.range(req.start, req.end, after === undefined ? { limit } : { limit, after });
      },
    );
    for (const r of page.records) yield toEntry(r.key, r.record);
    left -= page.records.length;
    if (!page.more || left <= 0 || page.after === null) return;
    after = page.after;
  }
}
