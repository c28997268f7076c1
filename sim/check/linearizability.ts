/**
 * Linearizability of a client history against a key-value register store. Keys are independent
 * registers, so the history is checked one key at a time (P-compositionality, as in Porcupine): the
 * search cost then depends on per-key concurrency, not on the whole history.
 */
import { pairOperations, type HistoryEvent, type Operation } from './history.ts';
import { pruneInfo } from './prune.ts';
import { searchKey } from './wgl.ts';

export type LinearizabilityResult =
  | { ok: true }
  | { ok: false; key: string; reason: string; operations: Operation[] }
  | { ok: 'unknown'; reason: 'timeout' };

export interface CheckOptions {
  /** Wall-clock budget for the whole check; past it the verdict is 'unknown'. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const CONTEXT_BEFORE = 3;
const CONTEXT_LIMIT = 10;

export function checkLinearizable(events: readonly HistoryEvent[], options: CheckOptions = {}): LinearizabilityResult {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const start = performance.now(); // wall-clock-ok: bounds the checker's own run time, not simulated time
  const expired = (): boolean => performance.now() - start > timeoutMs; // wall-clock-ok

  const byKey = new Map<string, Operation[]>();
  for (const op of pairOperations(events)) {
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  let timedOut = false;
  for (const [key, ops] of byKey) {
    // Past the deadline each later key still gets a few thousand steps (searchKey checks the clock
    // only that often): a definite violation on a small key outranks a timeout on a big one.
    const r = searchKey(pruneInfo(ops), expired);
    if (r.kind === 'timeout') {
      timedOut = true;
    } else if (r.kind === 'fail') {
      const reason = neverWritten(ops, r.blocked)
        ? `${describeOperation(r.blocked)} requires a value that no operation on this key writes`
        : `${describeOperation(r.blocked)} cannot be linearized: the longest linearizable prefix has ` +
          `${r.prefix} of ${r.total} operations, after which ${JSON.stringify(key)} holds ${JSON.stringify(r.state)}`;
      return { ok: false, key, reason, operations: failureContext(ops, r.blocked) };
    }
  }
  return timedOut ? { ok: 'unknown', reason: 'timeout' } : { ok: true };
}

/** Whether `op` reads or expects a value that is neither the initial null nor written by any operation. */
function neverWritten(ops: readonly Operation[], op: Operation): boolean {
  const required = op.f === 'get' ? op.output : op.f === 'cas' ? op.input[0] : null;
  if (required === null || required === undefined) return false;
  return !ops.some((w) => (w.f === 'put' && w.input === required) || (w.f === 'cas' && w.input[1] === required));
}

/** The blocked operation, the ones overlapping it, and the few that completed just before it. */
function failureContext(ops: readonly Operation[], blocked: Operation): Operation[] {
  const overlapping = ops.filter((op) => op !== blocked && op.callIndex < blocked.returnIndex && op.returnIndex > blocked.callIndex);
  const before = ops
    .filter((op) => op.returnIndex < blocked.callIndex)
    .sort((a, b) => a.returnIndex - b.returnIndex)
    .slice(-CONTEXT_BEFORE);
  const nearest = [...before, ...overlapping]
    .sort((a, b) => Math.abs(a.callIndex - blocked.callIndex) - Math.abs(b.callIndex - blocked.callIndex))
    .slice(0, CONTEXT_LIMIT - 1);
  return [blocked, ...nearest].sort((a, b) => a.callIndex - b.callIndex);
}

export function describeOperation(op: Operation): string {
  const lines = `lines ${op.callIndex + 1}-${op.returnIndex === Infinity ? '?' : op.returnIndex + 1}`;
  const what = ((): string => {
    switch (op.f) {
      case 'put':
        return `put ${JSON.stringify(op.key)} ${JSON.stringify(op.input)}`;
      case 'delete':
        return `delete ${JSON.stringify(op.key)}`;
      case 'cas':
        return `cas ${JSON.stringify(op.key)} ${JSON.stringify(op.input[0])} -> ${JSON.stringify(op.input[1])}`;
      case 'get':
        return `get ${JSON.stringify(op.key)}` + (op.output === undefined ? '' : ` -> ${JSON.stringify(op.output)}`);
    }
  })();
  return `process ${op.process} ${what} (${op.status}, ${lines})`;
}

export function describeFailure(result: LinearizabilityResult): string {
  if (result.ok === true) return 'linearizable';
  if (result.ok === 'unknown') return `linearizability unknown: the search hit its ${result.reason}`;
  return [`not linearizable on key ${JSON.stringify(result.key)}: ${result.reason}`, ...result.operations.map((op) => `  ${describeOperation(op)}`)].join('\n');
}
