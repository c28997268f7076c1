/**
 * The state machine's bookkeeping rows in the `meta` table. They live in the same backend as
 * the data and change in the same batch, which is what makes "applied index" and "state" one
 * atomic fact (and puts them in every snapshot image).
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { utf8 } from '../util/bytes.ts';
import type { KvReadView } from './kv-backend.ts';

export const META_APPLIED = utf8('applied');
export const META_EVENTS = utf8('events');
export const META_SESSIONS = utf8('sessions');

export interface AppliedMeta {
  readonly index: number;
  readonly term: number;
}

export interface EventsMeta {
  /** Every event of a revision >= floor is kept; older ones were trimmed. */
  readonly floor: number;
  readonly count: number;
}

export interface SessionsMeta {
  readonly count: number;
  /** The highest lastIndex of any expired session: new sessions must open with since >= this. */
  readonly horizon: number;
}

export const EMPTY_APPLIED: AppliedMeta = Object.freeze({ index: 0, term: 0 });
export const EMPTY_EVENTS: EventsMeta = Object.freeze({ floor: 1, count: 0 });
export const EMPTY_SESSIONS: SessionsMeta = Object.freeze({ count: 0, horizon: 0 });

export function readApplied(view: KvReadView): AppliedMeta {
  return readPair(view, META_APPLIED, 'kv meta applied', EMPTY_APPLIED, (a, b) => ({ index: a, term: b }));
}

export function readEvents(view: KvReadView): EventsMeta {
  return readPair(view, META_EVENTS, 'kv meta events', EMPTY_EVENTS, (a, b) => ({ floor: a, count: b }));
}

export function readSessions(view: KvReadView): SessionsMeta {
  return readPair(view, META_SESSIONS, 'kv meta sessions', EMPTY_SESSIONS, (a, b) => ({ count: a, horizon: b }));
}

export function encodeApplied(m: AppliedMeta): Uint8Array {
  return new ByteWriter(16).uvarint(m.index).uvarint(m.term).finish();
}

export function encodeEvents(m: EventsMeta): Uint8Array {
  return new ByteWriter(16).uvarint(m.floor).uvarint(m.count).finish();
}

export function encodeSessions(m: SessionsMeta): Uint8Array {
  return new ByteWriter(16).uvarint(m.count).uvarint(m.horizon).finish();
}

function readPair<T>(view: KvReadView, key: Uint8Array, what: string, empty: T, make: (a: number, b: number) => T): T {
  const raw = view.get('meta', key);
  if (raw === undefined) return empty;
  const r = new ByteReader(raw, what, 'CORRUPTION');
  const out = make(r.uvarint(), r.uvarint());
  r.end();
  return out;
}
