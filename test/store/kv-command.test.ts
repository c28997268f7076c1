import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENTRY_BYTES, MAX_KEY_BYTES } from '../../src/limits.ts';
import { decodeCommand, encodeCommand, type KvCommand, type KvCompare, type KvTxnOp } from '../../src/store/kv-command.ts';
import { MAX_CLIENT_ID_BYTES, MAX_TXN_OPS } from '../../src/store/kv-limits.ts';
import { decodeResult, encodeResult, type KvResult } from '../../src/store/kv-result.ts';
import { compareBytes } from '../../src/util/bytes.ts';
import { b, cas, casOn, cmpNum, cmpValue, del, delRange, get, opPut, put, txn } from './kv-fixtures.ts';

const key = fc.uint8Array({ minLength: 1, maxLength: 40 });
const value = fc.uint8Array({ maxLength: 100 });
const nat = fc.maxSafeNat();
const session = fc.option(
  fc.record(
    { client: fc.string({ minLength: 1, maxLength: 10 }), seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), since: fc.integer({ min: 1, max: 1e12 }) },
    { requiredKeys: ['client', 'seq'] },
  ),
  { nil: undefined },
);
const withSession = <T extends object>(cmd: T, s: { client: string; seq: number } | undefined) => (s ? { ...cmd, session: s } : cmd);
const range = fc
  .tuple(key, fc.option(key, { nil: null }))
  .filter(([s, e]) => e === null || compareBytes(s, e) < 0)
  .map(([start, end]) => ({ start, end }));
const compareArb: fc.Arbitrary<KvCompare> = fc.oneof(
  fc.record({ key, target: fc.constant('value' as const), op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const), value: fc.option(value, { nil: null }) }),
  fc.record({
    key,
    target: fc.constantFrom('version' as const, 'createRevision' as const, 'modRevision' as const),
    op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>' as const),
    value: nat,
  }),
);
const opArb: fc.Arbitrary<KvTxnOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, value }),
  fc.record({ op: fc.constant('delete' as const), key }),
  fc.record({ op: fc.constant('get' as const), key }),
  range.map((r) => ({ op: 'deleteRange' as const, ...r })),
);
const expected = fc.oneof(
  fc.constant(null),
  value,
  nat.map((version) => ({ version })),
  nat.map((createRevision) => ({ createRevision })),
  nat.map((modRevision) => ({ modRevision })),
);

const commandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.tuple(key, value, session, fc.boolean()).map(([k, v, s, quiet]) =>
    withSession(quiet ? { op: 'put' as const, key: k, value: v, withoutPrev: true } : { op: 'put' as const, key: k, value: v }, s),
  ),
  fc.tuple(key, session).map(([k, s]) => withSession({ op: 'delete' as const, key: k }, s)),
  fc.tuple(range, session).map(([r, s]) => withSession({ op: 'deleteRange' as const, ...r }, s)),
  fc.tuple(key, expected, value, session).map(([k, e, v, s]) => withSession({ op: 'cas' as const, key: k, expected: e, value: v }, s)),
  fc.tuple(key, session).map(([k, s]) => withSession({ op: 'get' as const, key: k }, s)),
  fc
    .tuple(fc.array(compareArb, { maxLength: 4 }), fc.array(opArb, { maxLength: 4 }), fc.array(opArb, { maxLength: 4 }), session)
    .map(([compares, success, failure, s]) => withSession({ op: 'txn' as const, compares, success, failure }, s)),
);

describe('KV command encoding', () => {
  it('round-trips every command', () => {
    fc.assert(
      fc.property(commandArb, (cmd) => {
        expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('is deterministic and distinguishes commands', () => {
    expect(encodeCommand(put('k', 'v'))).toEqual(encodeCommand(put('k', 'v')));
    const all = [
      put('k', 'v'),
      del('k'),
      get('k'),
      cas('k', null, 'v'),
      cas('k', '', 'v'),
      casOn('k', { version: 0 }, 'v'),
      casOn('k', { createRevision: 0 }, 'v'),
      casOn('k', { modRevision: 0 }, 'v'),
      delRange('k', null),
      delRange('k', 'l'),
      txn([], []),
      txn([cmpValue('k', '=', null)], []),
      txn([cmpValue('k', '=', '')], []),
      txn([cmpNum('k', 'version', '<', 0)], []),
      txn([], [], [opPut('k', 'v')]),
      put('k', 'v', { client: 'c', seq: 1 }),
      put('k', 'v', { client: 'c', seq: 1, since: 3 }),
    ];
    const encoded = new Set(all.map((c) => Buffer.from(encodeCommand(c)).toString('hex')));
    expect(encoded.size).toBe(all.length);
  });

  it('treats since 0 as no since', () => {
    expect(encodeCommand(put('k', 'v', { client: 'c', seq: 1, since: 0 }))).toEqual(encodeCommand(put('k', 'v', { client: 'c', seq: 1 })));
  });

  it('validates keys and sizes on encode', () => {
    expect(() => encodeCommand(put('', 'v'))).toThrow(expect.objectContaining({ code: 'EMPTY_KEY' }));
    const longKey = new Uint8Array(MAX_KEY_BYTES + 1).fill(97);
    expect(() => encodeCommand({ op: 'get', key: longKey })).toThrow(expect.objectContaining({ code: 'KEY_TOO_LONG' }));
    expect(() => encodeCommand({ op: 'get', key: longKey.subarray(1) })).not.toThrow();
    expect(() => encodeCommand(txn([{ key: longKey, target: 'version', op: '=', value: 1 }], []))).toThrow(
      expect.objectContaining({ code: 'KEY_TOO_LONG' }),
    );
    expect(() => encodeCommand(txn([], [], [{ op: 'delete', key: new Uint8Array(0) }]))).toThrow(expect.objectContaining({ code: 'EMPTY_KEY' }));
    const big = new Uint8Array(MAX_ENTRY_BYTES);
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: big })).toThrow(expect.objectContaining({ code: 'ENTRY_TOO_LARGE' }));
    expect(() => encodeCommand({ op: 'put', key: b('k'), value: big.subarray(16) })).not.toThrow();
    expect(() => encodeCommand(txn([], [opPut('k', 'x'.repeat(MAX_ENTRY_BYTES))]))).toThrow(expect.objectContaining({ code: 'ENTRY_TOO_LARGE' }));
  });

  it('validates ranges: end after start, or null', () => {
    expect(() => encodeCommand(delRange('b', 'a'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(delRange('a', 'a'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(delRange('', 'a'))).toThrow(expect.objectContaining({ code: 'EMPTY_KEY' }));
    expect(() => encodeCommand(txn([], [{ op: 'deleteRange', start: b('b'), end: b('a') }]))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('validates txns: op counts, targets, operators and numbers', () => {
    const ops = Array.from({ length: MAX_TXN_OPS + 1 }, () => opPut('k', 'v'));
    expect(() => encodeCommand(txn([], ops))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(txn([], [], ops))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(txn([], ops.slice(1)))).not.toThrow();
    const bad = [
      { key: b('k'), target: 'nope', op: '=', value: 1 },
      { key: b('k'), target: 'version', op: '<=', value: 1 },
      { key: b('k'), target: 'version', op: '=', value: -1 },
      { key: b('k'), target: 'modRevision', op: '=', value: 0.5 },
    ] as unknown as KvCompare[];
    for (const c of bad) expect(() => encodeCommand(txn([c], []))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => encodeCommand(casOn('k', { version: -1 }, 'v'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('validates sessions on encode: client id, seq >= 1, since', () => {
    for (const s of [
      { client: '', seq: 1 },
      { client: 'c', seq: 0 },
      { client: 'c', seq: -1 },
      { client: 'c', seq: 1.5 },
      { client: 'c', seq: 1, since: -1 },
      { client: 'x'.repeat(MAX_CLIENT_ID_BYTES + 1), seq: 1 },
      { client: 'é'.repeat(MAX_CLIENT_ID_BYTES / 2 + 1), seq: 1 }, // counted in UTF-8 bytes
    ]) {
      expect(() => encodeCommand(put('k', 'v', s)), JSON.stringify(s)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => encodeCommand(put('k', 'v', { client: 'x'.repeat(MAX_CLIENT_ID_BYTES), seq: 1 }))).not.toThrow();
  });

  it('rejects malformed bytes with INVALID_ARGUMENT', () => {
    for (const bad of [Uint8Array.of(), Uint8Array.of(9, 1, 97), encodeCommand(put('k', 'v')).subarray(0, 3), Uint8Array.of(6, 200)]) {
      expect(() => decodeCommand(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    const trailing = Uint8Array.of(...encodeCommand(del('k')), 0);
    expect(() => decodeCommand(trailing)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decodeCommand(Uint8Array.of(4, 0))).toThrow(expect.objectContaining({ code: 'EMPTY_KEY' }));
    // Only a put may carry the flag that drops its prev.
    const flagged = encodeCommand(del('k'));
    flagged[0] = flagged[0]! | 0x40;
    expect(() => decodeCommand(flagged)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // seq 0 smuggled past the encoder is refused on decode as well.
    const s0 = encodeCommand(put('k', 'v', { client: 'c', seq: 1 }));
    const patched = s0.slice();
    patched[3] = 0; // [tag][len 1]['c'][seq]
    expect(() => decodeCommand(patched)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('KV result encoding', () => {
  const record = fc.record({ value, createRevision: nat, modRevision: nat, version: nat });
  const optRecord = fc.option(record, { nil: null });
  const opResult = fc.oneof(
    optRecord.map((prev) => ({ op: 'put' as const, prev })),
    optRecord.map((prev) => ({ op: 'delete' as const, prev })),
    nat.map((deleted) => ({ op: 'deleteRange' as const, deleted })),
    optRecord.map((v) => ({ op: 'get' as const, value: v })),
  );
  const resultArb: fc.Arbitrary<KvResult> = fc.oneof(
    fc.record(
      { ok: fc.constant(true as const), revision: nat, prev: optRecord, value: optRecord, deleted: nat, succeeded: fc.boolean(), results: fc.array(opResult, { maxLength: 3 }) },
      { requiredKeys: ['ok', 'revision'] },
    ),
    optRecord.map((current) => ({ ok: false as const, reason: 'compare_failed' as const, current })),
    fc.constant({ ok: false as const, reason: 'session_stale' as const }),
    nat.map((horizon) => ({ ok: false as const, reason: 'session_expired' as const, horizon })),
  );

  it('round-trips every result exactly, absent fields included', () => {
    fc.assert(
      fc.property(resultArb, (r) => {
        const back = decodeResult(encodeResult(r));
        expect(back).toStrictEqual(structuredClone(r)); // clone: fast-check records have a null prototype
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
