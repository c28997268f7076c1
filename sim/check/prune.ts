/**
 * Removes `info` operations that cannot matter to the verdict, before the search: info gets (they
 * observed nothing and change nothing) and info writes whose value nobody examines. The search would
 * otherwise try such an info cas wherever its expected value is current, for nothing.
 *
 * Sound and complete: in any linearization, the operations between a write of v and the next write
 * all see v, so they are gets reading v or cas ops expecting v. If nobody examines v, the info write
 * is followed directly by a write (or nothing) and deleting it leaves the rest valid. Deleting an
 * info cas may leave its expected value unexamined, hence the fixpoint. (reductions.md)
 */
import type { Operation, Value } from './history.ts';

/** `ops` are one key's operations; the result keeps their order. */
export function pruneInfo(ops: readonly Operation[]): Operation[] {
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
