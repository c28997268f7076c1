/**
 * What each command does to the data: the key-value semantics, written once for every backend.
 * Revision = the Raft index of the command's entry; every change a command makes (all ops of a
 * txn included) carries it.
 */
import { compareBytes } from '../util/bytes.ts';
import type { KvCasExpected, KvCommand, KvCompare, KvTxnOp } from './kv-command.ts';
import type { KvBackend } from './kv-backend.ts';
import type { KvData } from './kv-data.ts';
import { executeModel } from './model-execute.ts';
import type { KvRecord } from './kv-record.ts';
import type { KvOpResult, KvResult } from './kv-result.ts';

export function execute(backend: KvBackend, data: KvData, cmd: KvCommand, revision: number): KvResult {
  switch (cmd.op) {
    case 'get':
      return { ok: true, revision, value: data.get(cmd.key) };
    case 'put': {
      const prev = data.put(cmd.key, cmd.value, revision);
      return { ok: true, revision, prev: cmd.withoutPrev === true ? null : prev };
    }
    case 'delete':
      return { ok: true, revision, prev: data.delete(cmd.key, revision) };
    case 'deleteRange':
      return { ok: true, revision, deleted: data.deleteRange(cmd.start, cmd.end, revision) };
    case 'cas': {
      const current = data.get(cmd.key);
      if (!casHolds(cmd.expected, current)) return { ok: false, reason: 'compare_failed', current };
      return { ok: true, revision, prev: data.put(cmd.key, cmd.value, revision) };
    }
    case 'txn': {
      // Compares all see the state before any op; the ops then run in order.
      const succeeded = cmd.compares.every((c) => compareHolds(c, data.get(c.key)));
      const results = (succeeded ? cmd.success : cmd.failure).map((op) => runOp(data, op, revision));
      return { ok: true, revision, succeeded, results };
    }
    default:
      return executeModel(backend, data, cmd, revision);
  }
}

function runOp(data: KvData, op: KvTxnOp, revision: number): KvOpResult {
  switch (op.op) {
    case 'get':
      return { op: 'get', value: data.get(op.key) };
    case 'put':
      return { op: 'put', prev: data.put(op.key, op.value, revision) };
    case 'delete':
      return { op: 'delete', prev: data.delete(op.key, revision) };
    case 'deleteRange':
      return { op: 'deleteRange', deleted: data.deleteRange(op.start, op.end, revision) };
  }
}

function casHolds(expected: KvCasExpected, current: KvRecord | null): boolean {
  if (expected === null) return current === null;
  if (expected instanceof Uint8Array) return current !== null && compareBytes(current.value, expected) === 0;
  if ('version' in expected) return (current?.version ?? 0) === expected.version;
  if ('createRevision' in expected) return (current?.createRevision ?? 0) === expected.createRevision;
  return (current?.modRevision ?? 0) === expected.modRevision;
}

function compareHolds(c: KvCompare, current: KvRecord | null): boolean {
  const d =
    c.target === 'value'
      ? compareValues(current?.value ?? null, c.value)
      : Math.sign((current?.[c.target] ?? 0) - c.value);
  switch (c.op) {
    case '=':
      return d === 0;
    case '!=':
      return d !== 0;
    case '<':
      return d < 0;
    case '>':
      return d > 0;
  }
}

/** Absent (null) orders before every present value, the empty one included. */
function compareValues(a: Uint8Array | null, b: Uint8Array | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return compareBytes(a, b);
}
