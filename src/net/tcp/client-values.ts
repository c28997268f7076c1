/**
 * The wire forms of each client op's arguments and result, both ways, checked field by field on
 * the way in (wire-schema.ts): the node checks every request before it reaches the node, and
 * the client every answer before it reaches the caller.
 *
 * Results must come back exactly as the node returned them (a cached session result is compared
 * byte for byte by nobody, but callers see optional-vs-null distinctions), so a KvApplyResult
 * travels in the state machine's own encoding (kv-result.ts), which keeps every such distinction.
 * Bytes come back as plain Uint8Array, never Buffer.
 */
import { TesseraError } from '../../errors.ts';
import { MAX_KEY_BYTES } from '../../limits.ts';
import type { KvBlobTable } from '../../store/kv-backend.ts';
import type { KvRecord } from '../../store/kv-command.ts';
import { MAX_RANGE_LIMIT } from '../../store/kv-limits.ts';
import { decodeResult, encodeResult } from '../../store/kv-result.ts';
import type { KvApplyResult, KvEvent, KvRangeOptions, KvRangePage } from '../../store/kv-state-machine.ts';
import { MAX_WAIT_APPLIED_MS, type ClientOp, type ClientOps, type NodeStatusReport } from './client-protocol.ts';
import type { PeerAddress } from './tls.ts';
import { bool, bytes, list, nodeId, protocolError, str, tuple, uint } from './wire-schema.ts';

export interface Codec<T> {
  toWire(value: T): unknown;
  fromWire(wire: unknown, what: string): T;
}

type OpCodecs = { readonly [K in ClientOp]: { readonly args: Codec<ClientOps[K]['args']>; readonly result: Codec<ClientOps[K]['result']> } };

const BLOB_TABLES: ReadonlySet<string> = new Set<KvBlobTable>(['chunks', 'chunkRefs', 'params']);

function key(value: unknown, what: string, minLength = 0): Uint8Array {
  const k = bytes(value, what);
  if (k.byteLength < minLength || k.byteLength > MAX_KEY_BYTES) throw protocolError(`${what}: key of ${k.byteLength} bytes`);
  return k;
}

function optional<T>(value: unknown, read: (v: unknown) => T): T | null {
  return value === null ? null : read(value);
}

const noArgs: Codec<[]> = {
  toWire: () => [],
  fromWire: (w, what) => {
    tuple(w, 0, what);
    return [];
  },
};

const count: Codec<number> = { toWire: (n) => n, fromWire: (w, what) => uint(w, what) };

const record: Codec<KvRecord> = {
  toWire: (r) => [r.value, r.createRevision, r.modRevision, r.version],
  fromWire: (w, what) => {
    const f = tuple(w, 4, what);
    return { value: bytes(f[0], `${what}.value`), createRevision: uint(f[1], `${what}.createRevision`), modRevision: uint(f[2], `${what}.modRevision`), version: uint(f[3], `${what}.version`) };
  },
};

const optionalRecord: Codec<KvRecord | null> = {
  toWire: (r) => (r === null ? null : record.toWire(r)),
  fromWire: (w, what) => optional(w, (v) => record.fromWire(v, what)),
};

const applyResult: Codec<KvApplyResult> = {
  toWire: (r) => (r === null ? null : encodeResult(r)),
  fromWire: (w, what) =>
    optional(w, (v) => {
      try {
        return decodeResult(bytes(v, what), what);
      } catch (e) {
        if (e instanceof TesseraError && e.code === 'PROTOCOL_ERROR') throw e;
        throw protocolError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }),
};

const rangePage: Codec<KvRangePage> = {
  toWire: (p) => [p.records.map((r) => [r.key, record.toWire(r.record)]), p.more, p.after],
  fromWire: (w, what) => {
    const f = tuple(w, 3, what);
    const records = list(f[0], `${what}.records`).map((r) => {
      const kr = tuple(r, 2, `${what}.records[]`);
      return { key: bytes(kr[0], `${what}.key`), record: record.fromWire(kr[1], `${what}.record`) };
    });
    return { records, more: bool(f[1], `${what}.more`), after: optional(f[2], (v) => bytes(v, `${what}.after`)) };
  },
};

const EVENT_TYPES = { put: 1, delete: 2 } as const;

const events: Codec<KvEvent[]> = {
  toWire: (es) => es.map((e) => [e.revision, e.sub, EVENT_TYPES[e.type], e.key, record.toWire(e.record)]),
  fromWire: (w, what) =>
    list(w, what).map((x): KvEvent => {
      const f = tuple(x, 5, `${what}[]`);
      const revision = uint(f[0], `${what}.revision`);
      const sub = uint(f[1], `${what}.sub`);
      const k = bytes(f[3], `${what}.key`);
      const rec = record.fromWire(f[4], `${what}.record`);
      // A put event's value is the record's value (kv-events.ts): one array, as on the node.
      if (f[2] === EVENT_TYPES.put) return { revision, sub, type: 'put', key: k, value: rec.value, record: rec };
      if (f[2] === EVENT_TYPES.delete) return { revision, sub, type: 'delete', key: k, record: rec };
      throw protocolError(`${what}.type: unknown event type`);
    }),
};

const address: Codec<PeerAddress | null> = {
  toWire: (a) => (a === null ? null : [a.host, a.port]),
  fromWire: (w, what) =>
    optional(w, (v) => {
      const f = tuple(v, 2, what);
      return { host: str(f[0], `${what}.host`), port: uint(f[1], `${what}.port`) };
    }),
};

const status: Codec<NodeStatusReport> = {
  toWire: (s) => [
    s.id,
    s.clusterId,
    s.role,
    s.term,
    s.leader,
    s.commit,
    s.applied,
    s.lastIndex,
    s.members.map((m) => [m.id, address.toWire(m.address)]),
    s.progress.map((p) => [p.id, p.match, p.next, p.state]),
  ],
  fromWire: (w, what) => {
    const f = tuple(w, 10, what);
    return {
      id: nodeId(f[0], `${what}.id`),
      clusterId: str(f[1], `${what}.clusterId`),
      role: str(f[2], `${what}.role`),
      term: uint(f[3], `${what}.term`),
      leader: uint(f[4], `${what}.leader`),
      commit: uint(f[5], `${what}.commit`),
      applied: uint(f[6], `${what}.applied`),
      lastIndex: uint(f[7], `${what}.lastIndex`),
      members: list(f[8], `${what}.members`).map((m) => {
        const mf = tuple(m, 2, `${what}.members[]`);
        return { id: nodeId(mf[0], `${what}.members.id`), address: address.fromWire(mf[1], `${what}.members.address`) };
      }),
      progress: list(f[9], `${what}.progress`).map((p) => {
        const pf = tuple(p, 4, `${what}.progress[]`);
        return { id: nodeId(pf[0], `${what}.progress.id`), match: uint(pf[1], `${what}.progress.match`), next: uint(pf[2], `${what}.progress.next`), state: str(pf[3], `${what}.progress.state`) };
      }),
    };
  },
};

function rangeOptions(w: unknown, what: string): KvRangeOptions {
  const f = tuple(w, 2, what);
  const limit = f[0] === null ? undefined : uint(f[0], `${what}.limit`);
  if (limit !== undefined && (limit < 1 || limit > MAX_RANGE_LIMIT)) throw protocolError(`${what}.limit: out of 1..${MAX_RANGE_LIMIT}`);
  const after = f[1] === null ? undefined : key(f[1], `${what}.after`);
  return { ...(limit !== undefined && { limit }), ...(after !== undefined && { after }) };
}

export const OP_CODECS: OpCodecs = {
  propose: {
    args: { toWire: ([c]) => [c], fromWire: (w, what) => [bytes(tuple(w, 1, what)[0], `${what}.command`)] },
    result: applyResult,
  },
  readBarrier: { args: noArgs, result: count },
  leaseReadBarrier: { args: noArgs, result: count },
  get: {
    args: { toWire: ([k]) => [k], fromWire: (w, what) => [key(tuple(w, 1, what)[0], `${what}.key`, 1)] },
    result: optionalRecord,
  },
  range: {
    args: {
      toWire: ([start, end, o]) => [start, end, [o.limit ?? null, o.after ?? null]],
      fromWire: (w, what) => {
        const f = tuple(w, 3, what);
        return [key(f[0], `${what}.start`), optional(f[1], (v) => key(v, `${what}.end`)), rangeOptions(f[2], `${what}.options`)];
      },
    },
    result: rangePage,
  },
  events: {
    args: {
      toWire: (a) => [...a],
      fromWire: (w, what) => {
        const f = tuple(w, 3, what);
        const limit = uint(f[1], `${what}.limit`);
        if (limit < 1 || limit > MAX_RANGE_LIMIT) throw protocolError(`${what}.limit: out of 1..${MAX_RANGE_LIMIT}`);
        return [uint(f[0], `${what}.fromRevision`), limit, uint(f[2], `${what}.fromSub`)];
      },
    },
    result: events,
  },
  readTable: {
    args: {
      toWire: (a) => [...a],
      fromWire: (w, what) => {
        const f = tuple(w, 2, what);
        const table = str(f[0], `${what}.table`);
        if (!BLOB_TABLES.has(table)) throw protocolError(`${what}.table: not a blob table`);
        return [table as KvBlobTable, key(f[1], `${what}.key`, 1)];
      },
    },
    result: { toWire: (v) => v, fromWire: (w, what) => optional(w, (v) => bytes(v, what)) },
  },
  waitApplied: {
    args: {
      toWire: (a) => [...a],
      // A longer wait is shortened, not refused: the contract allows an early answer.
      fromWire: (w, what) => {
        const f = tuple(w, 2, what);
        return [uint(f[0], `${what}.after`), Math.min(uint(f[1], `${what}.timeoutMs`), MAX_WAIT_APPLIED_MS)];
      },
    },
    result: count,
  },
  status: { args: noArgs, result: status },
};
