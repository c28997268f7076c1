/**
 * The client protocol's frames without sockets: every op's arguments and results round-trip
 * exactly (bytes stay plain Uint8Array), errors keep their code and leader hint, pages are cut to
 * their byte budget, and whatever bytes arrive, decoding fails only with PROTOCOL_ERROR.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/errors.ts';
import { parseAddress, parseAddressList, parseNamedAddress } from '../../src/net/tcp/address.ts';
import {
  decodePreamble,
  decodeRequest,
  decodeResponse,
  encodeError,
  encodePreamble,
  encodeRequest,
  encodeResult,
  errorFromWire,
  errorToWire,
  resultOf,
} from '../../src/net/tcp/client-codec.ts';
import { CLIENT_PREAMBLE_TAG, type ClientOp, type OpArgs, type OpResult } from '../../src/net/tcp/client-protocol.ts';
import { FRAME_HEADER_BYTES } from '../../src/net/tcp/frame.ts';
import { trimEvents, trimPage } from '../../src/net/tcp/page-budget.ts';
import type { KvRecord } from '../../src/store/kv-command.ts';
import type { KvOpResult, KvResult } from '../../src/store/kv-result.ts';
import type { KvApplyResult, KvEvent, KvRangePage } from '../../src/store/kv-state-machine.ts';

const RUNS = { seed: 7, numRuns: 300 };
/** Records with Object.prototype, as any decoder returns them (toStrictEqual compares prototypes). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}
const payloadOf = (frame: Uint8Array) => frame.subarray(FRAME_HEADER_BYTES);

/** A value through encodeResult -> decodeResponse -> resultOf, as a client receives it. */
function overWire<K extends ClientOp>(op: K, value: OpResult<K>): OpResult<K> {
  const res = decodeResponse(payloadOf(encodeResult(9, op, value, 2)));
  expect(res).toMatchObject({ id: 9, ok: true, leader: 2 });
  if (!res.ok) throw new Error('not ok');
  return resultOf(op, res.value);
}

function argsOverWire<K extends ClientOp>(op: K, args: OpArgs<K>): unknown {
  const req = decodeRequest(payloadOf(encodeRequest(5, op, args)));
  expect(req.id).toBe(5);
  expect(req.op).toBe(op);
  return req.args;
}

/** Every Uint8Array in `v` is a plain one (not a Buffer). */
function plainBytesOnly(v: unknown): boolean {
  if (v instanceof Uint8Array) return v.constructor === Uint8Array;
  if (Array.isArray(v)) return v.every(plainBytesOnly);
  if (typeof v === 'object' && v !== null) return Object.values(v).every(plainBytesOnly);
  return true;
}

const bytes = (max = 40) => fc.uint8Array({ maxLength: max });
const n = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const record: fc.Arbitrary<KvRecord> = rec({ value: bytes(), createRevision: n, modRevision: n, version: n });
const optRecord = fc.option(record, { nil: null });
const opResult: fc.Arbitrary<KvOpResult> = fc.oneof(
  rec({ op: fc.constant('put' as const), prev: optRecord }),
  rec({ op: fc.constant('delete' as const), prev: optRecord }),
  rec({ op: fc.constant('deleteRange' as const), deleted: n }),
  rec({ op: fc.constant('get' as const), value: optRecord }),
);
const okResult: fc.Arbitrary<KvResult> = fc
  .record(
    {
      revision: n,
      prev: optRecord,
      value: optRecord,
      deleted: n,
      succeeded: fc.boolean(),
      results: fc.array(opResult, { maxLength: 4 }),
      version: n,
      existed: fc.boolean(),
      clock: n,
      step: n,
    },
    { requiredKeys: ['revision'], noNullPrototype: true },
  )
  .map((r) => ({ ok: true as const, ...r }));
const failResult: fc.Arbitrary<KvResult> = fc.oneof(
  rec({ ok: fc.constant(false as const), reason: fc.constant('compare_failed' as const), current: optRecord }),
  rec({ ok: fc.constant(false as const), reason: fc.constant('missing_chunks' as const), missing: fc.array(bytes(32), { maxLength: 3 }) }),
  rec({ ok: fc.constant(false as const), reason: fc.constant('head_moved' as const), head: n }),
  rec({ ok: fc.constant(false as const), reason: fc.constant('param_wait' as const), clock: n, minClock: n }),
  rec({ ok: fc.constant(false as const), reason: fc.constant('invalid' as const), message: fc.string() }),
  rec({ ok: fc.constant(false as const), reason: fc.constant('session_expired' as const), horizon: n }),
  fc.constantFrom<KvResult>({ ok: false, reason: 'not_found' }, { ok: false, reason: 'param_exists' }, { ok: false, reason: 'session_stale' }),
);
const applyResult: fc.Arbitrary<KvApplyResult> = fc.oneof(okResult, failResult, fc.constant(null));
const page: fc.Arbitrary<KvRangePage> = rec({
  records: fc.array(rec({ key: bytes(), record }), { maxLength: 5 }),
  more: fc.boolean(),
  after: fc.option(bytes(), { nil: null }),
});
const event: fc.Arbitrary<KvEvent> = fc.oneof(
  rec({ revision: n, sub: n, key: bytes(), record }).map((e): KvEvent => ({ ...e, type: 'put', value: e.record.value })),
  rec({ revision: n, sub: n, key: bytes(), record }).map((e): KvEvent => ({ ...e, type: 'delete' })),
);

describe('client protocol: values round-trip exactly', () => {
  it('KvApplyResult (every variant, optional-vs-null kept)', () => {
    fc.assert(
      fc.property(applyResult, (r) => {
        const back = overWire('propose', r);
        expect(back).toStrictEqual(r);
        expect(plainBytesOnly(back)).toBe(true);
      }),
      RUNS,
    );
  });

  it('KvRecord, KvRangePage, KvEvent, table records and numbers', () => {
    fc.assert(
      fc.property(optRecord, page, fc.array(event, { maxLength: 4 }), fc.option(bytes(), { nil: null }), n, (rec, p, es, blob, num) => {
        expect(overWire('get', rec)).toStrictEqual(rec);
        expect(overWire('range', p)).toStrictEqual(p);
        const evs = overWire('events', es);
        expect(evs).toStrictEqual(es);
        for (const e of evs) if (e.type === 'put') expect(e.value).toBe(e.record.value);
        expect(overWire('readTable', blob)).toStrictEqual(blob);
        expect(overWire('readBarrier', num)).toBe(num);
        expect(plainBytesOnly([overWire('get', rec), overWire('range', p), evs])).toBe(true);
      }),
      RUNS,
    );
  });

  it('a status report', () => {
    const status: OpResult<'status'> = {
      id: 2,
      clusterId: 'c',
      role: 'leader',
      term: 3,
      leader: 2,
      commit: 10,
      applied: 9,
      lastIndex: 11,
      members: [
        { id: 1, address: { host: '127.0.0.1', port: 7001 } },
        { id: 2, address: null },
      ],
      progress: [{ id: 1, match: 10, next: 11, state: 'replicate' }],
    };
    expect(overWire('status', status)).toStrictEqual(status);
  });

  it('every op’s arguments', () => {
    const key = new Uint8Array([1, 2]);
    expect(argsOverWire('propose', [new Uint8Array([9])])).toStrictEqual([new Uint8Array([9])]);
    expect(argsOverWire('readBarrier', [])).toStrictEqual([]);
    expect(argsOverWire('leaseReadBarrier', [])).toStrictEqual([]);
    expect(argsOverWire('get', [key])).toStrictEqual([key]);
    expect(argsOverWire('range', [key, null, {}])).toStrictEqual([key, null, {}]);
    expect(argsOverWire('range', [new Uint8Array(), key, { limit: 5, after: key }])).toStrictEqual([new Uint8Array(), key, { limit: 5, after: key }]);
    expect(argsOverWire('events', [3, 100, 1])).toStrictEqual([3, 100, 1]);
    expect(argsOverWire('readTable', ['chunks', key])).toStrictEqual(['chunks', key]);
    expect(argsOverWire('waitApplied', [7, 250])).toStrictEqual([7, 250]);
    // A longer wait than the node allows is shortened, not refused.
    expect(argsOverWire('waitApplied', [7, 10_000_000])).toStrictEqual([7, 10_000]);
    expect(argsOverWire('status', [])).toStrictEqual([]);
  });

  it('errors keep their code, message and leader hint', () => {
    const e = new TesseraError('NOT_LEADER', 'node 1 is not the leader', { leaderHint: 3 });
    const res = decodeResponse(payloadOf(encodeError(4, errorToWire(e), 3)));
    if (res.ok) throw new Error('ok?');
    const back = errorFromWire(res.error);
    expect(back).toBeInstanceOf(TesseraError);
    expect(back).toMatchObject({ code: 'NOT_LEADER', leaderHint: 3, message: e.message });
    // Anything but a TesseraError is a bug on the node: INVARIANT, not retried.
    expect(errorToWire(new RangeError('boom'))).toMatchObject({ code: 'INVARIANT', leaderHint: 0 });
  });

  it('the preamble is told apart from a peer hello', () => {
    expect(decodePreamble(payloadOf(encodePreamble(1, 'c1')))).toEqual({ version: 1, clusterId: 'c1' });
    expect(decodePreamble(new Packr({ useRecords: false }).pack([1, 1, 'c1', 1, 2, 0, new Uint8Array(32)]))).toBeNull();
    expect(decodePreamble(new Uint8Array([0xc1]))).toBeNull();
    expect(() => decodePreamble(new Packr({ useRecords: false }).pack([CLIENT_PREAMBLE_TAG]))).toThrow(/PROTOCOL_ERROR/);
  });
});

describe('client protocol: hostile input', () => {
  const packr = new Packr({ useRecords: false });
  const onlyProtocolErrors = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof TesseraError) || e.code !== 'PROTOCOL_ERROR') throw new Error(`escaped: ${String(e)}`, { cause: e });
    }
  };

  it('random bytes fail with PROTOCOL_ERROR only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        onlyProtocolErrors(() => decodeRequest(b));
        onlyProtocolErrors(() => decodeResponse(b));
        onlyProtocolErrors(() => decodePreamble(b));
      }),
      { ...RUNS, numRuns: 1000 },
    );
  });

  it('well-formed MessagePack of the wrong shape fails with PROTOCOL_ERROR only', () => {
    const anyValue = fc.anything({ withTypedArray: true, withNullPrototype: true, withMap: true, withBigInt: true, maxDepth: 3 });
    const opName = fc.constantFrom<string>('propose', 'get', 'range', 'events', 'readTable', 'waitApplied', 'status', 'nope', '__proto__');
    fc.assert(
      fc.property(fc.oneof(anyValue, rec({ id: fc.oneof(n, anyValue), op: opName, args: fc.oneof(fc.array(anyValue, { maxLength: 4 }), anyValue) })), (v) => {
        let b: Uint8Array;
        try {
          b = packr.pack(v);
        } catch {
          return; // not encodable: nobody can send it
        }
        onlyProtocolErrors(() => decodeRequest(b));
        onlyProtocolErrors(() => decodeResponse(b));
      }),
      { ...RUNS, numRuns: 1000 },
    );
  });

  it('checks each field: ids, keys, tables, limits', () => {
    const bad = (v: unknown) => expect(() => decodeRequest(packr.pack(v))).toThrow(/PROTOCOL_ERROR/);
    bad({ id: 0, op: 'readBarrier', args: [] });
    bad({ id: 1.5, op: 'readBarrier', args: [] });
    bad({ id: 1, op: 'readBarrier', args: [], extra: 1 });
    bad({ id: 1, op: 'get', args: [new Uint8Array()] });
    bad({ id: 1, op: 'get', args: [new Uint8Array(5000)] });
    bad({ id: 1, op: 'readTable', args: ['data', new Uint8Array([1])] });
    bad({ id: 1, op: 'events', args: [1, 0, 0] });
    bad({ id: 1, op: 'events', args: [1, 1_000_000, 0] });
    bad({ id: 1, op: 'range', args: [new Uint8Array(), null, [0, null]] });
    bad({ id: 1, op: 'waitApplied', args: [-1, 5] });
    bad([1, 'readBarrier', []]);
  });
});

describe('page budget', () => {
  const entry = (k: string, size: number) => ({ key: new TextEncoder().encode(k), record: { value: new Uint8Array(size), createRevision: 1, modRevision: 1, version: 1 } });

  it('cuts a range page at the byte budget, never below one record, and says more', () => {
    const p: KvRangePage = { records: [entry('a', 600), entry('b', 600), entry('c', 600)], more: false, after: null };
    const cut = trimPage(p, 1300);
    expect(cut.records.map((r) => r.key)).toStrictEqual([p.records[0]!.key, p.records[1]!.key]);
    expect(cut).toMatchObject({ more: true, after: p.records[1]!.key });
    expect(trimPage(p, 10).records).toHaveLength(1);
    expect(trimPage(p, 1_000_000)).toBe(p);
  });

  it('cuts an event page', () => {
    const e = (i: number): KvEvent => ({ revision: i, sub: 0, type: 'delete', ...entry(`k${i}`, 500) });
    expect(trimEvents([e(1), e(2), e(3)], 1200)).toHaveLength(2);
    expect(trimEvents([e(1)], 1)).toHaveLength(1);
  });
});

describe('addresses', () => {
  it('parses host:port, [v6]:port and id=host:port', () => {
    expect(parseAddress('127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(parseAddress('[::1]:7001')).toEqual({ host: '::1', port: 7001 });
    expect(parseNamedAddress('2=db.local:7002')).toEqual({ id: 2, address: { host: 'db.local', port: 7002 } });
    expect(parseAddressList('2=a:1, 3=b:2,')).toHaveLength(2);
    expect(parseAddress('0.0.0.0:0', { allowPortZero: true }).port).toBe(0);
    for (const bad of ['7001', 'a:b', 'a:70000', 'a:0', ':1', 'x=a:1']) expect(() => parseNamedAddress(bad)).toThrow(/INVALID_ARGUMENT/);
  });
});
