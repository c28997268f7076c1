/**
 * Runs one write to completion, applied at most once however often it is retried.
 *
 * The command is encoded once under its session (client, seq, since), and every attempt on
 * every node proposes those same bytes: the state machine applies the first copy that commits
 * and answers later copies from its session cache. Retrying is therefore always safe; what the
 * writer must track is whether an earlier attempt MAY have been applied, which decides what a
 * `session_expired` answer means:
 * - no attempt can have been applied (each was refused before entering a log, or answered
 *   session_expired itself): the write certainly did not happen, so the session is reopened
 *   and the write goes on under it;
 * - some attempt may have been (timed out, node stopped with it in flight): the state machine
 *   can no longer tell, and neither can we: SESSION_EXPIRED, outcome unknown.
 */
import { TesseraError, isTesseraError } from '../errors.ts';
import type { KvCommand } from '../store/kv-command.ts';
import { encodeCommand } from '../store/kv-command.ts';
import type { KvResult } from '../store/kv-result.ts';
import type { Lifetime } from './lifetime.ts';
import { now } from './lifetime.ts';
import type { Router } from './router.ts';
import type { Session, SessionPool } from './sessions.ts';

/** A session can expire while we reopen it only if sessions churn faster than we can open one. */
const MAX_REOPENS = 3;

export interface WriterContext {
  readonly router: Router;
  readonly sessions: SessionPool;
  readonly life: Lifetime;
  /** The highest revision the client has observed, and how to raise it. */
  observed(): number;
  observe(revision: number): void;
  /**
   * Called before a session opens: makes observed() a revision at least as recent as every
   * session that may have used the same client id before (see Client: given client ids).
   */
  beforeOpen(deadline: number): Promise<void>;
}

/** Answers that mean the attempt certainly did not enter any log, or never can apply. */
function certainlyNotApplied(e: unknown): boolean {
  return (
    isTesseraError(e) &&
    (e.code === 'NOT_LEADER' || e.code === 'NO_LEADER' || e.code === 'UNCOMMITTED_LIMIT' || e.code === 'PROPOSAL_DROPPED' || e.code === 'OVERLOADED')
  );
}

/**
 * Proposes `cmd` until it is applied; resolves with the state machine's result (ok, or the
 * command's own refusal: compare_failed, missing_chunks, ...). Throws validation errors before anything is proposed, TIMEOUT (outcome
 * unknown) at the deadline, SESSION_EXPIRED (outcome unknown), CLOSED if the client closes.
 */
export type WriteOutcome = Exclude<KvResult, { reason: 'session_stale' } | { reason: 'session_expired' }>;

export async function write(ctx: WriterContext, cmd: KvCommand, what: string, timeoutMs: number): Promise<WriteOutcome> {
  const deadline = now() + timeoutMs;
  ctx.life.check();
  const free = ctx.sessions.tryAcquire();
  // Bad input fails at once: before waiting for a session or for it to open. A session that is
  // free and open validates the command as it encodes it (session.encode), which is most writes.
  if (free === null || !free.opened) {
    try {
      encodeCommand(cmd);
    } catch (e) {
      if (free !== null) ctx.sessions.release(free);
      throw e;
    }
  }
  const session = free ?? (await ctx.sessions.acquire(ctx.life, timeoutMs));
  try {
    return await run(ctx, session, cmd, what, deadline);
  } finally {
    ctx.sessions.release(session);
  }
}

async function run(ctx: WriterContext, session: Session, cmd: KvCommand, what: string, deadline: number): Promise<WriteOutcome> {
  if (!session.opened) await ctx.beforeOpen(deadline);
  const attempts = new Attempts(session.encode(cmd, ctx.observed()), what);
  const result = await ctx.router.run<WriteOutcome>({ target: 'leader', deadline, what, timeoutNote: '; its outcome is unknown' }, async (ep) => {
    for (let reopens = 0; ; reopens++) {
      const res = await attempts.propose(ep);
      if (res.ok || (res.reason !== 'session_stale' && res.reason !== 'session_expired')) return res;
      if (res.reason === 'session_stale') {
        throw new TesseraError('SESSION_STALE', `${what}: session ${session.client} answered stale for its own pending command`);
      }
      // session_expired
      session.reopen(res.horizon, ctx.observed());
      if (attempts.maybeApplied()) {
        throw new TesseraError('SESSION_EXPIRED', `${what}: the session expired while the write was retried; its outcome is unknown`);
      }
      if (reopens >= MAX_REOPENS) {
        throw new TesseraError('SESSION_EXPIRED', `${what}: sessions expire faster than a new one opens; the write was not applied`);
      }
      attempts.data = session.encode(cmd, ctx.observed());
    }
  });
  if (result.ok) ctx.observe(result.revision);
  return result;
}

/**
 * The attempts of one write, one flag each: may it still be, or have been, applied? (A class, not
 * closures in run(): see PendingRace in lifetime.ts.)
 */
class Attempts {
  private readonly flags: { maybe: boolean }[] = [];

  constructor(
    /** The encoded command every attempt proposes (changes when the session reopens). */
    public data: Uint8Array,
    private readonly what: string,
  ) {}

  maybeApplied(): boolean {
    for (const a of this.flags) if (a.maybe) return true;
    return false;
  }

  async propose(ep: { propose(d: Uint8Array): Promise<unknown> }): Promise<KvResult> {
    const attempt = { maybe: true };
    this.flags.push(attempt);
    // Kept up to date even after the router stops waiting for this attempt (attempt timeout).
    const pending = ep.propose(this.data);
    pending.catch((e: unknown) => {
      if (certainlyNotApplied(e)) attempt.maybe = false;
    });
    const res = (await pending) as KvResult | null;
    if (res === null) throw new TesseraError('INVARIANT', `${this.what}: a command entry applied without a result`);
    if (!res.ok && res.reason === 'session_expired') attempt.maybe = false;
    return res;
  }
}
