/**
 * An obviously-correct, exponential linearizability oracle for tiny histories, to cross-check the
 * WGL search and its reductions. It tries every order consistent with real time, over all keys at
 * once (so it also checks the per-key split), letting info operations run anywhere after their call
 * or never.
 */
import type { Operation, Value } from '../../../sim/check/history.ts';

export function bruteForceLinearizable(ops: readonly Operation[]): boolean {
  const done = ops.map(() => false);
  const state = new Map<string, Value>();
  const search = (remainingOk: number): boolean => {
    if (remainingOk === 0) return true;
    let earliestReturn = Infinity;
    ops.forEach((op, i) => {
      if (!done[i]) earliestReturn = Math.min(earliestReturn, op.returnIndex);
    });
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (done[i] || op.callIndex > earliestReturn) continue;
      const before = state.get(op.key) ?? null;
      let after: Value;
      if (op.f === 'put') after = op.input;
      else if (op.f === 'delete') after = null;
      else if (op.f === 'get') {
        if (op.output !== undefined && op.output !== before) continue;
        after = before;
      } else {
        if (op.input[0] !== before) continue;
        after = op.input[1];
      }
      done[i] = true;
      state.set(op.key, after);
      const found = search(remainingOk - (op.status === 'ok' ? 1 : 0));
      state.set(op.key, before);
      done[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(ops.filter((op) => op.status === 'ok').length);
}
