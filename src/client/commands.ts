/**
 * Client-level arguments (keys and values as strings, bytes or MessagePack-able values) turned
 * into the state machine's command parts, and its results turned back into entries.
 */
import { TesseraError } from '../errors.ts';
import type { KvCasExpected, KvCompare, KvTxnOp } from '../store/kv-command.ts';
import type { KvOpResult } from '../store/kv-result.ts';
import type { CasExpected, TxnCompare, TxnOp, TxnOpResult, TxnSpec } from './types.ts';
import { checkedKey, encodeValue, keyRange, toOptionalEntry } from './values.ts';

const REVISION_FIELDS = ['version', 'modRevision', 'createRevision'] as const;

export function casExpected(e: CasExpected): KvCasExpected {
  if (e === null) return null;
  if (typeof e === 'object' && !(e instanceof Uint8Array) && Object.getPrototypeOf(e) === Object.prototype) {
    const keys = Object.keys(e);
    const field = REVISION_FIELDS.find((f) => keys.length === 1 && keys[0] === f);
    if (field !== undefined) {
      const n = (e as Record<string, unknown>)[field];
      if (typeof n !== 'number') throw new TesseraError('INVALID_ARGUMENT', `cas: expected ${field} must be a number`);
      return { [field]: n } as KvCasExpected;
    }
  }
  return encodeValue(e);
}

/**
 * A txn's compares and ops as the state machine takes them. The spec's shape is checked here
 * (INVALID_ARGUMENT), since a JavaScript caller has no compiler to check it; each part's
 * contents are checked by txnCompare, txnOp and the command's own validation.
 */
export function txnParts(spec: TxnSpec): { compares: KvCompare[]; success: KvTxnOp[]; failure: KvTxnOp[] } {
  if (typeof spec !== 'object' || spec === null) throw new TesseraError('INVALID_ARGUMENT', `a txn spec must be an object, got ${describe(spec)}`);
  return {
    compares: objects('compares', spec.compares).map(txnCompare),
    success: objects('success', spec.success ?? []).map(txnOp),
    failure: objects('failure', spec.failure ?? []).map(txnOp),
  };
}

function objects<T>(what: string, list: readonly T[]): readonly T[] {
  if (!Array.isArray(list)) throw new TesseraError('INVALID_ARGUMENT', `txn ${what} must be an array, got ${describe(list)}`);
  for (const x of list) {
    if (typeof x !== 'object' || x === null) throw new TesseraError('INVALID_ARGUMENT', `txn ${what} must hold objects, got ${describe(x)}`);
  }
  return list;
}

function describe(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}

export function txnCompare(c: TxnCompare): KvCompare {
  const key = checkedKey(c.key);
  if (c.target === 'value') return { key, target: 'value', op: c.op, value: c.value === null ? null : encodeValue(c.value) };
  return { key, target: c.target, op: c.op, value: c.value };
}

export function txnOp(op: TxnOp): KvTxnOp {
  switch (op.op) {
    case 'put':
      return { op: 'put', key: checkedKey(op.key), value: encodeValue(op.value) };
    case 'delete':
      return { op: 'delete', key: checkedKey(op.key) };
    case 'get':
      return { op: 'get', key: checkedKey(op.key) };
    case 'deleteRange': {
      const { start, end } = keyRange(op.start, op.end);
      return { op: 'deleteRange', start, end };
    }
    default:
      throw new TesseraError('INVALID_ARGUMENT', `unknown txn op ${String((op as { op: unknown }).op)}`);
  }
}

export function txnResult(r: KvOpResult, op: KvTxnOp | undefined): TxnOpResult {
  const key = op !== undefined && op.op !== 'deleteRange' ? op.key : new Uint8Array(0);
  switch (r.op) {
    case 'put':
    case 'delete':
      return { op: r.op, prev: toOptionalEntry(key, r.prev) };
    case 'get':
      return { op: 'get', value: toOptionalEntry(key, r.value) };
    case 'deleteRange':
      return { op: 'deleteRange', deleted: r.deleted };
  }
}
