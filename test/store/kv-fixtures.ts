/** Builders for the state-machine tests: commands as log entries, keys and values as strings. */
import { EntryType, type Entry } from '../../src/raft/types.ts';
import {
  encodeCommand,
  type KvCasExpected,
  type KvCommand,
  type KvCompare,
  type KvCompareOp,
  type KvSession,
  type KvTxnOp,
} from '../../src/store/kv-command.ts';
import { utf8 } from '../../src/util/bytes.ts';

export const b = utf8;

const withSession = <T extends object>(cmd: T, session?: KvSession): T => (session ? { ...cmd, session } : cmd);

export const put = (key: string, value: string, session?: KvSession): KvCommand =>
  withSession({ op: 'put' as const, key: b(key), value: b(value) }, session);
export const del = (key: string, session?: KvSession): KvCommand => withSession({ op: 'delete' as const, key: b(key) }, session);
export const delRange = (start: string, end: string | null, session?: KvSession): KvCommand =>
  withSession({ op: 'deleteRange' as const, start: b(start), end: end === null ? null : b(end) }, session);
export const cas = (key: string, expected: string | null, value: string, session?: KvSession): KvCommand =>
  withSession({ op: 'cas' as const, key: b(key), expected: expected === null ? null : b(expected), value: b(value) }, session);
/** A cas on one of the key's numbers: { version: n } etc. */
export const casOn = (key: string, expected: Exclude<KvCasExpected, Uint8Array | null>, value: string, session?: KvSession): KvCommand =>
  withSession({ op: 'cas' as const, key: b(key), expected, value: b(value) }, session);
export const get = (key: string, session?: KvSession): KvCommand => withSession({ op: 'get' as const, key: b(key) }, session);
export const txn = (compares: KvCompare[], success: KvTxnOp[], failure: KvTxnOp[] = [], session?: KvSession): KvCommand =>
  withSession({ op: 'txn' as const, compares, success, failure }, session);

export const cmpValue = (key: string, op: KvCompareOp, value: string | null): KvCompare => ({
  key: b(key),
  target: 'value',
  op,
  value: value === null ? null : b(value),
});
export const cmpNum = (key: string, target: 'version' | 'createRevision' | 'modRevision', op: KvCompareOp, value: number): KvCompare => ({
  key: b(key),
  target,
  op,
  value,
});

export const opPut = (key: string, value: string): KvTxnOp => ({ op: 'put', key: b(key), value: b(value) });
export const opDel = (key: string): KvTxnOp => ({ op: 'delete', key: b(key) });
export const opDelRange = (start: string, end: string | null): KvTxnOp => ({ op: 'deleteRange', start: b(start), end: end === null ? null : b(end) });
export const opGet = (key: string): KvTxnOp => ({ op: 'get', key: b(key) });

/** Consecutive entries from `first` on, in one term; null stands for an Empty entry. */
export function entriesOf(first: number, term: number, commands: readonly (KvCommand | null)[]): Entry[] {
  return commands.map((c, i) => ({
    index: first + i,
    term,
    type: c === null ? EntryType.Empty : EntryType.Normal,
    data: c === null ? new Uint8Array(0) : encodeCommand(c),
  }));
}

/** n Empty entries from `first` on. */
export function emptyEntries(first: number, term: number, n: number): Entry[] {
  return entriesOf(first, term, new Array<null>(n).fill(null));
}

export const rec = (value: string, createRevision: number, modRevision: number, version: number) => ({
  value: b(value),
  createRevision,
  modRevision,
  version,
});
