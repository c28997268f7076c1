import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENTRY_BYTES, MAX_KEY_BYTES } from '../../src/limits.ts';
import { decodeCommand, encodeCommand, type KvCommand } from '../../src/store/kv-command.ts';
import { b, cas, del, get, put } from './kv-fixtures.ts';

const key = fc.uint8Array({ minLength: 1, maxLength: 40 });
const value = fc.uint8Array({ maxLength: 100 });
const session = fc.option(fc.record({ client: fc.string({ minLength: 1, maxLength: 10 }), seq: fc.maxSafeNat() }), {
  nil: undefined,
});
const withSession = <T extends object>(cmd: T, s: { client: string; seq: number } | undefined) => (s ? { ...cmd, session: s } : cmd);

const commandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.tuple(key, value, session).map(([k, v, s]) => withSession({ op: 'put' as const, key: k, value: v }, s)),
  fc.tuple(key, session).map(([k, s]) => withSession({ op: 'delete' as const, key: k }, s)),
  fc
    .tuple(key, fc.option(value, { nil: null }), value, session)
    .map(([k, e, v, s]) => withSession({ op: 'cas' as const, key: k, expected: e, value: v }, s)),
  fc.tuple(key, session).map(([k, s]) => withSession({ op: 'get' as const, key: k }, s)),
);

describe('KV command encoding', () => {
  it('round-trips every command', () => {
    fc.assert(
      fc.property(commandArb, (cmd) => {
        expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('is deterministic and distinguishes commands', () => {
    expect(encodeCommand(put('k', 'v'))).toEqual(encodeCommand(put('k', 'v')));
    const all = [put('k', 'v'), del('k'), get('k'), cas('k', null, 'v'), cas('k', '', 'v'), put('k', 'v', { client: 'c', seq: 1 })];
    const encoded = new Set(all.map((c) => Buffer.from(encodeCommand(c)).toString('hex')));
    expect(encoded.size).toBe(all.length);
  });

  it('validates keys and sizes on encode', () => {
    expect(() => encodeCommand(put('', 'v'))).toThrow(expect.objectContaining({ code: 'EMPTY_KEY' }));
    const longKey = new Uint8Array(MAX_KEY_BYTES + 1).fill(97);
    expect(() => encodeCommand({ op: 'get', key: longKey })).toThrow(expect.objectContaining({ code: 'KEY_TOO_LONG' }));
    expect(() => encodeCommand({ op: 'get', key: longKey.subarray(1) })).not.toThrow();
    const big = new Uint8Array(MAX_ENTRY_BYTES);
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: big })).toThrow(
      expect.objectContaining({ code: 'ENTRY_TOO_LARGE' }),
    );
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: big.subarray(16) })).not.toThrow();
  });

  it('validates sessions on encode', () => {
    expect(() => encodeCommand(put('k', 'v', { client: '', seq: 1 }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(put('k', 'v', { client: 'c', seq: -1 }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(put('k', 'v', { client: 'c', seq: 1.5 }))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('rejects malformed bytes with INVALID_ARGUMENT', () => {
    for (const bad of [Uint8Array.of(), Uint8Array.of(9, 1, 97), encodeCommand(put('k', 'v')).subarray(0, 3)]) {
      expect(() => decodeCommand(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    const trailing = Uint8Array.of(...encodeCommand(del('k')), 0);
    expect(() => decodeCommand(trailing)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decodeCommand(Uint8Array.of(4, 0))).toThrow(expect.objectContaining({ code: 'EMPTY_KEY' }));
  });
});
