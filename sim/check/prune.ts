/**
 * Removes `info` operations that cannot matter to the verdict, before the search. An info operation
 * may be linearized or left out, and each one left pending multiplies the configurations the search
 * may visit; crashed clients are common under faults, so this keeps the search near-linear.
 *
 * Sound and complete: take any linearization containing an info write (put, delete or cas) whose
 * written value v is observed by nobody (no ok get reads v and no remaining cas expects v). Between
 * it and the next write, every operation would have to examine state v, and none does; so the write
 * can be deleted and the rest still linearizes. Deleting an info cas may make its expected value
 * unobserved, hence the fixpoint.
 */
import type { Operation, Value } from './history.ts';

/** `ops` are one key's operations; the result keeps their order. */
export function pruneInfo(ops: readonly Operation[]): Operation[] {
  // An info get observed nothing, and reading changes no state.
  let kept = ops.filter((op) => !(op.f === 'get' && op.status === 'info'));
  for (;;) {
    const observed = new Set<Value>();
    for (const op of kept) {
      if (op.f === 'get' && op.output !== undefined) observed.add(op.output);
      if (op.f === 'cas') observed.add(op.input[0]);
    }
    const next = kept.filter((op) => op.status === 'ok' || observed.has(writtenValue(op)));
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

function writtenValue(op: Operation): Value {
  switch (op.f) {
    case 'put':
      return op.input;
    case 'cas':
      return op.input[1];
    case 'delete':
    case 'get':
      return null;
  }
}
