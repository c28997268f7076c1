/** Builders for the state-machine tests: commands as log entries, keys and values as strings. */
import { EntryType, type Entry } from '../../src/raft/types.ts';
import { encodeCommand, type KvCommand, type KvSession } from '../../src/store/kv-command.ts';
import { utf8 } from '../../src/util/bytes.ts';

export const b = utf8;

export const put = (key: string, value: string, session?: KvSession): KvCommand => ({
  op: 'put',
  key: b(key),
  value: b(value),
  ...(session ? { session } : {}),
});
export const del = (key: string, session?: KvSession): KvCommand => ({ op: 'delete', key: b(key), ...(session ? { session } : {}) });
export const cas = (key: string, expected: string | null, value: string, session?: KvSession): KvCommand => ({
  op: 'cas',
  key: b(key),
  expected: expected === null ? null : b(expected),
  value: b(value),
  ...(session ? { session } : {}),
});
export const get = (key: string, session?: KvSession): KvCommand => ({ op: 'get', key: b(key), ...(session ? { session } : {}) });

/** Consecutive entries from `first` on, in one term; null stands for an Empty entry. */
export function entriesOf(first: number, term: number, commands: readonly (KvCommand | null)[]): Entry[] {
  return commands.map((c, i) => ({
    index: first + i,
    term,
    type: c === null ? EntryType.Empty : EntryType.Normal,
    data: c === null ? new Uint8Array(0) : encodeCommand(c),
  }));
}
