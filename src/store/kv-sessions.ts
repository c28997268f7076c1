/**
 * Exactly-once client sessions with deterministic expiry.
 *
 * A session is (client, since). It opens with its client's command seq 1; since is a revision
 * the client observed before that command (0 if none) and must be below the opening entry's
 * index. The state machine keeps, per client, the session's since, its last seq and that
 * command's result, and the index of its last command (lastIndex). A command of the session
 * with the last seq gets the cached result, an older seq gets session_stale, a newer one runs.
 *
 * Sessions expire when idle for more than `sessionIdleEntries` applied entries, or, least
 * recently used first, when opening one more would exceed `maxSessions`. Expiry raises the
 * horizon to the expired session's lastIndex. A command is refused with session_expired (and
 * not applied) unless it belongs to a live session or opens a new one with seq 1 and
 * horizon <= since < index.
 *
 * Why this never applies a command twice: a session S opened at index J with since_S < J, so
 * every command of S has since_S < J <= lastIndex_S. A later copy of one of S's commands, once S
 * is gone, finds either no live session of its client, and then fails "seq 1 and since >=
 * horizon" because S's expiry raised the horizon to lastIndex_S > since_S; or a later session of
 * the same client id, whose since is greater than since_S (it opened with since >= horizon, or
 * replaced S, which takes a greater since), and is refused as older. The simpler rule "an unknown
 * client must start at seq 1" is not enough: a delayed copy of seq 1 arriving after expiry would
 * open the session again and apply twice, and so would any copy once a client id is reused.
 *
 * Liveness: a new client with a fresh `since` opens at once unless a session active after that
 * revision expired meanwhile; the refusal carries the horizon, a valid since for a retry.
 *
 * The LRU index is lazy: each session has exactly one row `u64be(mark) -> client`, where mark
 * is a lastIndex the session had (mark <= lastIndex), written when it opened. A command then
 * rewrites only the session's record; a row is moved to the session's real lastIndex only when
 * it comes first in the index and its mark says idle (or it is the eviction candidate). Scanning
 * from the first row and moving stale ones until the first row is up to date finds exactly the
 * sessions that eager bookkeeping would (every real lastIndex is >= its mark), at a third of the
 * writes per command. Marks are unique: each is an index at which that session was active.
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { fromUtf8, utf8 } from '../util/bytes.ts';
import { readU64be, u64be } from '../util/u64be.ts';
import { TesseraError } from '../errors.ts';
import type { KvBackend } from './kv-backend.ts';
import type { KvSession } from './kv-command.ts';
import type { KvLimits } from './kv-limits.ts';
import { EMPTY_SESSIONS, encodeSessions, META_SESSIONS, readSessions, type SessionsMeta } from './kv-meta.ts';
import { decodeResult, writeResultBytes, type KvResult } from './kv-result.ts';

/** What admission needs of a session; its cached result is read only to answer a repeat. */
interface SessionHead {
  readonly since: number;
  readonly seq: number;
  readonly lastIndex: number;
}

interface SessionState extends SessionHead {
  readonly result: KvResult;
}

/** What to do with a session command: answer without applying, or run it and then record(). */
export type Admission =
  | { readonly kind: 'answer'; readonly result: KvResult }
  | { readonly kind: 'run'; readonly previous: SessionHead | null };

const STALE: KvResult = Object.freeze({ ok: false, reason: 'session_stale' });

/** Session table `client -> state` plus a lazy LRU index `u64be(mark) -> client`. */
export class KvSessions {
  private meta: SessionsMeta = EMPTY_SESSIONS;
  private dirty = false;

  constructor(
    private readonly backend: KvBackend,
    private readonly limits: KvLimits,
  ) {}

  /**
   * Encoded ids of the clients seen (each at most MAX_CLIENT_ID_BYTES, at most twice
   * maxSessions of them): every command of a session writes its record under that key. The
   * bytes are only ever passed to the backend, which copies them.
   */
  private readonly keys = new Map<string, Uint8Array>();

  private keyOf(client: string): Uint8Array {
    let key = this.keys.get(client);
    if (key === undefined) {
      // Commands of unknown clients are looked up too: a flood of them must not grow this.
      if (this.keys.size >= 2 * this.limits.maxSessions) this.keys.clear();
      key = utf8(client);
      this.keys.set(client, key);
    }
    return key;
  }

  /** The first LRU row: undefined = not read yet, null = no session. */
  private firstMemo: LruRow | null | undefined = undefined;
  /**
   * Heads of the sessions read or written so far (at most maxSessions), so that a command does
   * not read its session back. Like firstMemo and meta, they describe the backend as the last
   * batch left it, and clearCache() drops them when that may no longer hold.
   */
  private readonly heads = new Map<string, SessionHead>();
  private cached = false;
  /**
   * With deferWrites: session records changed since the last flush(), newest state each (at
   * most one per session). load() reads them first.
   */
  private readonly unwritten = new Map<string, SessionState>();
  /** Set by the owner: records wait for flush() instead of being written at each command. */
  deferWrites = false;

  /** Starts a batch: meta is read again only after clearCache() (or before the first batch). */
  begin(): void {
    if (!this.cached) {
      this.meta = readSessions(this.backend);
      this.cached = true;
    }
    this.dirty = false;
  }

  clearCache(): void {
    this.cached = false;
    this.firstMemo = undefined;
    this.heads.clear();
    this.keys.clear();
    // Only ever dropped with the transaction they were for (a failed group, a restore).
    this.unwritten.clear();
  }

  end(): void {
    if (this.dirty) this.backend.put('meta', META_SESSIONS, encodeSessions(this.meta));
  }

  /** Runs before each entry: expires every session idle for more than sessionIdleEntries. */
  expireIdle(index: number): void {
    for (;;) {
      const row = this.first();
      // Every session's real lastIndex is at least its mark: none past this row is idle.
      if (row === null || row.mark + this.limits.sessionIdleEntries >= index) return;
      const state = this.loadRow(row);
      if (state.lastIndex + this.limits.sessionIdleEntries < index) this.expire(row, state);
      else this.moveToLastIndex(row, state);
    }
  }

  admit(s: KvSession, index: number): Admission {
    const since = s.since ?? 0;
    const current = this.head(s.client);
    if (current !== null && current.since === since) {
      if (s.seq > current.seq) return { kind: 'run', previous: current };
      // A retry or a stale duplicate is activity of the session too.
      const state = this.load(s.client)!;
      this.store(s.client, { ...state, lastIndex: index });
      return { kind: 'answer', result: s.seq === state.seq ? state.result : STALE };
    }
    const expired: KvResult = { ok: false, reason: 'session_expired', horizon: this.meta.horizon };
    if (current !== null && since < current.since) return { kind: 'answer', result: expired };
    if (s.seq !== 1 || since < this.meta.horizon || since >= index) return { kind: 'answer', result: expired };
    // Opening: a newer session of a known client replaces its old one (whose copies are now
    // refused as older); a new client may push the least recently used session out.
    if (current === null && this.meta.count >= this.limits.maxSessions) this.evictLeastRecentlyUsed();
    return { kind: 'run', previous: current };
  }

  /** Records the result of a command admitted to run at `index`. */
  record(s: KvSession, index: number, previous: SessionHead | null, result: KvResult): void {
    if (previous === null) {
      this.setMeta({ ...this.meta, count: this.meta.count + 1 });
      // The newest row: the first one changes only if there was none.
      this.backend.put('lru', u64be(index), this.keyOf(s.client));
      if (this.firstMemo === null) this.firstMemo = undefined;
    }
    this.store(s.client, { since: s.since ?? 0, seq: s.seq, lastIndex: index, result });
  }

  private store(client: string, state: SessionState): void {
    this.heads.set(client, headOf(state));
    if (this.deferWrites) this.unwritten.set(client, state);
    else this.write(client, state);
  }

  private write(client: string, state: SessionState): void {
    const w = writeResultBytes(new ByteWriter(32).uvarint(state.since).uvarint(state.seq).uvarint(state.lastIndex), state.result);
    w.finishInto((bytes) => this.backend.put('sessions', this.keyOf(client), bytes));
  }

  /**
   * Writes the session records held back since the last flush (with deferWrites): the backend
   * calls this inside the transaction, before the commit that holds their batches. A session
   * that commands at every batch is then written once a commit instead of once a command.
   */
  flush(): void {
    for (const [client, state] of this.unwritten) this.write(client, state);
    this.unwritten.clear();
  }

  private head(client: string): SessionHead | null {
    return this.heads.get(client) ?? this.load(client);
  }

  private load(client: string): SessionState | null {
    const held = this.unwritten.get(client);
    if (held !== undefined) return held;
    const raw = this.backend.get('sessions', this.keyOf(client));
    if (raw === undefined) return null;
    const r = new ByteReader(raw, `session ${client}`, 'CORRUPTION');
    const state = { since: r.uvarint(), seq: r.uvarint(), lastIndex: r.uvarint(), result: decodeResult(r.bytes()) };
    r.end();
    this.heads.set(client, headOf(state));
    return state;
  }

  /** The session an LRU row names; a row without one, or marked past it, is corruption. */
  private loadRow(row: LruRow): SessionHead {
    const state = this.head(row.client);
    if (state === null) throw new TesseraError('CORRUPTION', `sessions: LRU names unknown client ${row.client}`);
    if (state.lastIndex < row.mark) throw new TesseraError('CORRUPTION', `sessions: LRU mark ${row.mark} of ${row.client} is past its last index ${state.lastIndex}`);
    return state;
  }

  /** Expires the least recently used session: moves stale rows until the first one is exact. */
  private evictLeastRecentlyUsed(): void {
    for (;;) {
      const row = this.first();
      if (row === null) throw new TesseraError('CORRUPTION', `sessions: count ${this.meta.count} but LRU index empty`);
      const state = this.loadRow(row);
      if (state.lastIndex === row.mark) return this.expire(row, state);
      this.moveToLastIndex(row, state);
    }
  }

  /** The first LRU row; remembered within a batch, since every entry asks. */
  private first(): LruRow | null {
    if (this.firstMemo === undefined) this.firstMemo = this.readFirst();
    return this.firstMemo;
  }

  private readFirst(): LruRow | null {
    const [first] = this.backend.range('lru', new Uint8Array(0), null, 1);
    if (first === undefined) return null;
    const mark = readU64be(first.key);
    if (mark === null || first.key.length !== 8) throw new TesseraError('CORRUPTION', 'sessions: bad LRU key');
    return { client: fromUtf8(first.value), mark };
  }

  private moveToLastIndex(row: LruRow, state: SessionHead): void {
    this.firstMemo = undefined;
    this.backend.delete('lru', u64be(row.mark));
    this.backend.put('lru', u64be(state.lastIndex), utf8(row.client));
  }

  private expire(row: LruRow, state: SessionHead): void {
    this.firstMemo = undefined;
    this.heads.delete(row.client);
    // Not stored yet if it opened since the last flush: then only the held record goes.
    const stored = this.backend.delete('sessions', this.keyOf(row.client));
    if (!this.unwritten.delete(row.client) && !stored) throw new TesseraError('CORRUPTION', `sessions: expiring ${row.client}, which has no record`);
    this.keys.delete(row.client);
    this.backend.delete('lru', u64be(row.mark));
    this.setMeta({ count: this.meta.count - 1, horizon: Math.max(this.meta.horizon, state.lastIndex) });
  }

  private setMeta(meta: SessionsMeta): void {
    this.meta = meta;
    this.dirty = true;
  }
}

interface LruRow {
  readonly client: string;
  readonly mark: number;
}

/** The head alone, so a cached head does not keep the result (and its values) alive. */
function headOf(state: SessionState): SessionHead {
  return { since: state.since, seq: state.seq, lastIndex: state.lastIndex };
}
