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
 */
import { ByteReader, ByteWriter } from '../util/byte-codec.ts';
import { fromUtf8, utf8 } from '../util/bytes.ts';
import { readU64be, u64be } from '../util/u64be.ts';
import { TesseraError } from '../errors.ts';
import type { KvBackend } from './kv-backend.ts';
import type { KvSession } from './kv-command.ts';
import type { KvLimits } from './kv-limits.ts';
import { EMPTY_SESSIONS, encodeSessions, META_SESSIONS, readSessions, type SessionsMeta } from './kv-meta.ts';
import { decodeResult, encodeResult, type KvResult } from './kv-result.ts';

interface SessionState {
  readonly since: number;
  readonly seq: number;
  readonly lastIndex: number;
  readonly result: KvResult;
}

/** What to do with a session command: answer without applying, or run it and then record(). */
export type Admission =
  | { readonly kind: 'answer'; readonly result: KvResult }
  | { readonly kind: 'run'; readonly previous: SessionState | null };

const STALE: KvResult = Object.freeze({ ok: false, reason: 'session_stale' });

/** Session table `client -> state` plus an LRU index `u64be(lastIndex) -> client`. */
export class KvSessions {
  private meta: SessionsMeta = EMPTY_SESSIONS;
  private dirty = false;

  constructor(
    private readonly backend: KvBackend,
    private readonly limits: KvLimits,
  ) {}

  /** oldest() within the current batch: undefined = not read yet, null = no session. */
  private oldestMemo: { client: string; lastIndex: number } | null | undefined = undefined;

  begin(): void {
    this.meta = readSessions(this.backend);
    this.dirty = false;
    this.oldestMemo = undefined;
  }

  end(): void {
    if (this.dirty) this.backend.put('meta', META_SESSIONS, encodeSessions(this.meta));
  }

  /** Runs before each entry: expires every session idle for more than sessionIdleEntries. */
  expireIdle(index: number): void {
    for (;;) {
      const oldest = this.oldest();
      if (oldest === null || oldest.lastIndex + this.limits.sessionIdleEntries >= index) return;
      this.expire(oldest.client, oldest.lastIndex);
    }
  }

  admit(s: KvSession, index: number): Admission {
    const since = s.since ?? 0;
    const current = this.load(s.client);
    if (current !== null && current.since === since) {
      if (s.seq > current.seq) return { kind: 'run', previous: current };
      // A retry or a stale duplicate is activity of the session too.
      this.store(s.client, { ...current, lastIndex: index }, current.lastIndex);
      return { kind: 'answer', result: s.seq === current.seq ? current.result : STALE };
    }
    const expired: KvResult = { ok: false, reason: 'session_expired', horizon: this.meta.horizon };
    if (current !== null && since < current.since) return { kind: 'answer', result: expired };
    if (s.seq !== 1 || since < this.meta.horizon || since >= index) return { kind: 'answer', result: expired };
    // Opening: a newer session of a known client replaces its old one (whose copies are now
    // refused as older); a new client may push the least recently used session out.
    if (current === null && this.meta.count >= this.limits.maxSessions) {
      const oldest = this.oldest();
      if (oldest === null) throw new TesseraError('CORRUPTION', `sessions: count ${this.meta.count} but LRU index empty`);
      this.expire(oldest.client, oldest.lastIndex);
    }
    return { kind: 'run', previous: current };
  }

  /** Records the result of a command admitted to run at `index`. */
  record(s: KvSession, index: number, previous: SessionState | null, result: KvResult): void {
    if (previous === null) this.setMeta({ ...this.meta, count: this.meta.count + 1 });
    this.store(s.client, { since: s.since ?? 0, seq: s.seq, lastIndex: index, result }, previous?.lastIndex ?? null);
  }

  private store(client: string, state: SessionState, oldLastIndex: number | null): void {
    const key = utf8(client);
    const w = new ByteWriter(32).uvarint(state.since).uvarint(state.seq).uvarint(state.lastIndex).bytes(encodeResult(state.result));
    this.backend.put('sessions', key, w.finish());
    if (oldLastIndex !== state.lastIndex) {
      if (oldLastIndex !== null) this.backend.delete('lru', u64be(oldLastIndex));
      this.backend.put('lru', u64be(state.lastIndex), key);
      // The new key is the newest; the oldest changes only if it was the one moved (or none was).
      if (this.oldestMemo === null || this.oldestMemo?.lastIndex === oldLastIndex) this.oldestMemo = undefined;
    }
  }

  private load(client: string): SessionState | null {
    const raw = this.backend.get('sessions', utf8(client));
    if (raw === undefined) return null;
    const r = new ByteReader(raw, `session ${client}`, 'CORRUPTION');
    const state = { since: r.uvarint(), seq: r.uvarint(), lastIndex: r.uvarint(), result: decodeResult(r.bytes()) };
    r.end();
    return state;
  }

  /** The least recently used session; remembered within a batch, since every entry asks. */
  private oldest(): { client: string; lastIndex: number } | null {
    if (this.oldestMemo === undefined) this.oldestMemo = this.readOldest();
    return this.oldestMemo;
  }

  private readOldest(): { client: string; lastIndex: number } | null {
    const [first] = this.backend.range('lru', new Uint8Array(0), null, 1);
    if (first === undefined) return null;
    const lastIndex = readU64be(first.key);
    if (lastIndex === null || first.key.length !== 8) throw new TesseraError('CORRUPTION', 'sessions: bad LRU key');
    return { client: fromUtf8(first.value), lastIndex };
  }

  private expire(client: string, lastIndex: number): void {
    this.oldestMemo = undefined;
    const present = this.backend.delete('sessions', utf8(client));
    if (!present) throw new TesseraError('CORRUPTION', `sessions: LRU names unknown client ${client}`);
    this.backend.delete('lru', u64be(lastIndex));
    this.setMeta({ count: this.meta.count - 1, horizon: Math.max(this.meta.horizon, lastIndex) });
  }

  private setMeta(meta: SessionsMeta): void {
    this.meta = meta;
    this.dirty = true;
  }
}
