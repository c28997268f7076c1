/**
 * The client's side of exactly-once sessions (kv-sessions.ts has the state machine's side).
 *
 * A session is (client id, since) with commands numbered from 1; a retry reuses its number, so
 * the state machine applies it at most once and answers the copies from its cache. The state
 * machine keeps one outstanding command per session (seq n+1 makes n stale), so a client that
 * wants several writes in flight uses several sessions: a pool of `size`, ids
 * `<clientId>.<i>`, each lent to one write at a time; further writes wait their turn (FIFO).
 * Sessions are opened lazily, so a client that writes little costs the cluster few of the
 * MAX_SESSIONS slots.
 *
 * `since` is the highest revision the client had observed when the session opened: the state
 * machine requires horizon <= since < the opening entry's index, and every revision we
 * observed is below any entry proposed afterwards.
 */
import { TesseraError } from '../errors.ts';
import { encodeCommand, type KvCommand } from '../store/kv-command.ts';
import { MAX_CLIENT_ID_BYTES, MAX_CLIENT_SESSIONS } from '../store/kv-limits.ts';
import { isWellFormed, utf8 } from '../util/bytes.ts';
import type { Lifetime } from './lifetime.ts';

export class Session {
  /** -1 until the session opens with its first command. */
  private since = -1;
  private seq = 0;

  constructor(readonly client: string) {}

  /** Whether the session has opened (its `since` is fixed). */
  get opened(): boolean {
    return this.since >= 0;
  }

  /**
   * The command as the session's next one. Validation errors (EMPTY_KEY, ENTRY_TOO_LARGE...)
   * leave the session as it was: a command that was never proposed takes no number.
   */
  encode(cmd: KvCommand, observed: number): Uint8Array {
    const since = this.since >= 0 ? this.since : observed;
    const data = encodeCommand(cmd, { client: this.client, seq: this.seq + 1, since });
    this.since = since;
    this.seq++;
    return data;
  }

  /**
   * The state machine no longer knows this session (it expired): the next command opens a new
   * one. Its since must be >= the horizon it reported and greater than ours, so that copies
   * of the old session's commands are refused as older.
   */
  reopen(horizon: number, observed: number): void {
    this.since = Math.max(horizon, observed, this.since + 1);
    this.seq = 0;
  }
}

interface Waiter {
  readonly resolve: (s: Session) => void;
  done: boolean;
}

export class SessionPool {
  private readonly idle: Session[] = [];
  private readonly waiters: Waiter[] = [];
  private created = 0;

  constructor(
    private readonly clientId: string,
    private readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_CLIENT_SESSIONS) {
      throw new TesseraError('INVALID_ARGUMENT', `sessions must be an integer in 1..${MAX_CLIENT_SESSIONS}, got ${size}`);
    }
    if (typeof clientId !== 'string') throw new TesseraError('INVALID_ARGUMENT', `client id must be a string, got ${typeof clientId}`);
    const longest = utf8(`${clientId}.${size}`).length;
    if (clientId.length === 0 || longest > MAX_CLIENT_ID_BYTES) {
      throw new TesseraError('INVALID_ARGUMENT', `client id must be 1..${MAX_CLIENT_ID_BYTES - 1 - String(size).length} UTF-8 bytes`);
    }
    // Two ids that differ only in a lone surrogate would encode alike and share sessions.
    if (!isWellFormed(clientId)) throw new TesseraError('INVALID_ARGUMENT', 'client id must be well-formed UTF-16: it has a lone surrogate');
  }

  /** A session free now, or null if all are lent out. */
  tryAcquire(): Session | null {
    const free = this.idle.pop();
    if (free) return free;
    if (this.created < this.size) return new Session(`${this.clientId}.${++this.created}`);
    return null;
  }

  /** A free session, waiting up to timeoutMs for one (TIMEOUT: nothing was proposed). */
  async acquire(life: Lifetime, timeoutMs: number): Promise<Session> {
    life.check();
    const free = this.tryAcquire();
    if (free) return free;
    let waiter!: Waiter;
    const turn = new Promise<Session>((resolve) => {
      waiter = { resolve, done: false };
      this.waiters.push(waiter);
    });
    try {
      return await life.race(turn, timeoutMs, () => new TesseraError('TIMEOUT', `no session free within ${timeoutMs} ms (all ${this.size} busy); nothing was proposed`));
    } catch (e) {
      if (waiter.done) void turn.then((s) => this.release(s));
      waiter.done = true;
      throw e;
    }
  }

  release(s: Session): void {
    for (;;) {
      const w = this.waiters.shift();
      if (w === undefined) break;
      if (w.done) continue;
      w.done = true;
      w.resolve(s);
      return;
    }
    this.idle.push(s);
  }
}
