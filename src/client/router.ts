/**
 * Which node to ask, and what to do when it fails. One operation is a series of attempts, each
 * on one endpoint with its own timeout, until one succeeds, an error that retrying cannot fix
 * comes back, or the operation's deadline passes (TIMEOUT, with the last failure as its cause).
 *
 * - A NOT_LEADER carrying a hint goes straight to the hinted node, without back-off, unless the
 *   hints keep pointing around in a circle (then it backs off as for any failure).
 * - Other retryable failures back off (exponential, jittered) and move on: to the leader some
 *   other node names, else to the next node in turn, so a dead node costs one attempt a round.
 * - OVERLOADED (the node refused the request, unread, for lack of capacity) backs off the same
 *   way; an operation that needs the leader then asks the same node again (it still leads, it
 *   was only busy), while one any node can serve moves on and spreads the load.
 * - The leader that last answered is remembered and tried first.
 */
import { TesseraError, isTesseraError, type TesseraErrorCode } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import type { Endpoint } from './endpoint.ts';
import { now, type Lifetime } from './lifetime.ts';

/** Codes that say "this node, now" failed, not the operation itself. */
const RETRYABLE: ReadonlySet<TesseraErrorCode> = new Set<TesseraErrorCode>([
  'NOT_LEADER',
  'NO_LEADER',
  'PROPOSAL_DROPPED',
  'UNCOMMITTED_LIMIT',
  'OVERLOADED',
  'TIMEOUT',
  'CLOSED',
]);

export function isRetryable(e: unknown): boolean {
  return e instanceof TesseraError && RETRYABLE.has(e.code);
}

export interface RouterOptions {
  readonly attemptTimeoutMs: number;
  readonly backoff: { readonly minMs: number; readonly maxMs: number };
}

export interface Plan {
  /** 'leader': the operation only succeeds on the leader; 'any': every node can serve it. */
  readonly target: 'leader' | 'any';
  /** Try this node first (if up). */
  readonly prefer?: NodeId;
  /** performance.now() value after which the operation fails with TIMEOUT. */
  readonly deadline: number;
  /** Names the operation in errors. */
  readonly what: string;
  /** Appended to the TIMEOUT message (a write says its outcome is unknown). */
  readonly timeoutNote?: string;
}

export class Router {
  /** The node believed to lead, 0 if unknown. */
  leader: NodeId = 0;
  private readonly byId = new Map<NodeId, Endpoint>();
  private readonly order: readonly Endpoint[];

  constructor(
    endpoints: readonly Endpoint[],
    private readonly life: Lifetime,
    readonly options: RouterOptions,
  ) {
    if (endpoints.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'a client needs at least one endpoint');
    this.order = [...endpoints].sort((a, b) => a.id - b.id);
    for (const e of this.order) this.byId.set(e.id, e);
  }

  async run<T>(plan: Plan, attempt: (endpoint: Endpoint) => Promise<T>): Promise<T> {
    let target = this.choose(plan.prefer);
    let failures = 0;
    let redirects = 0;
    let last: unknown;
    for (;;) {
      this.life.check();
      const left = plan.deadline - now();
      if (left <= 0) throw this.timeout(plan, last);
      const ep = this.up(target);
      if (ep === null) {
        // Nobody to ask right now (all down): wait, then look again.
        await this.life.sleep(Math.min(left, this.backoffMs(failures++)));
        target = this.choose(plan.prefer);
        continue;
      }
      try {
        const attemptMs = Math.min(this.options.attemptTimeoutMs, left);
        const value = await this.life.race(
          attempt(ep),
          attemptMs,
          () => new TesseraError('TIMEOUT', `${plan.what}: node ${ep.id} did not answer within ${Math.round(attemptMs)} ms`),
        );
        if (plan.target === 'leader') this.leader = ep.id;
        return value;
      } catch (e) {
        this.life.check(); // our own close, not the node's
        if (!isRetryable(e)) throw e;
        last = e;
        const hint = isTesseraError(e, 'NOT_LEADER') ? e.leaderHint : 0;
        if (hint !== 0 && hint !== ep.id && this.up(hint) !== null && redirects < this.order.length) {
          redirects++;
          this.leader = hint;
          target = hint;
          continue;
        }
        redirects = 0;
        // A busy node says nothing about who leads: it keeps its place as the leader we know.
        const busy = isTesseraError(e, 'OVERLOADED');
        if (this.leader === ep.id && !busy) this.leader = 0;
        await this.life.sleep(Math.min(Math.max(0, plan.deadline - now()), this.backoffMs(failures++)));
        target = busy && plan.target === 'leader' ? ep.id : this.after(plan.target, ep.id);
      }
    }
  }

  /** The first node to try: `prefer`, else the known leader, else a leader some node names, else the first up. */
  choose(prefer?: NodeId): NodeId {
    if (prefer !== undefined && this.up(prefer)) return prefer;
    if (this.up(this.leader)) return this.leader;
    const hinted = this.hintedLeader();
    if (hinted !== 0) return hinted;
    return this.order.find((e) => e.isUp())?.id ?? 0;
  }

  /** The node to try after `failed`: a leader another node names, else the next one up in turn. */
  after(target: 'leader' | 'any', failed: NodeId): NodeId {
    if (target === 'leader') {
      const hinted = this.hintedLeader(failed);
      if (hinted !== 0) return hinted;
    }
    const i = this.order.findIndex((e) => e.id === failed);
    for (let k = 1; k <= this.order.length; k++) {
      const e = this.order[(i + k) % this.order.length]!;
      if (e.isUp()) return e.id;
    }
    return 0;
  }

  /** Whether `id` is one of the nodes this router can ask, up or not. */
  knows(id: NodeId): boolean {
    return this.byId.has(id);
  }

  /** The node ids this router can ask, in order (for messages). */
  get ids(): readonly NodeId[] {
    return this.order.map((e) => e.id);
  }

  endpoint(id: NodeId): Endpoint | null {
    return this.up(id);
  }

  backoffMs(failures: number): number {
    const { minMs, maxMs } = this.options.backoff;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(failures, 20));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  private hintedLeader(except: NodeId = 0): NodeId {
    for (const e of this.order) {
      if (e.id === except || !e.isUp()) continue;
      const h = e.leaderHint();
      if (h !== 0 && h !== except && this.up(h) !== null) return h;
    }
    return 0;
  }

  private up(id: NodeId): Endpoint | null {
    const e = this.byId.get(id);
    return e !== undefined && e.isUp() ? e : null;
  }

  private timeout(plan: Plan, last: unknown): TesseraError {
    const why = last instanceof Error ? `; last failure: ${last.message}` : '';
    return new TesseraError('TIMEOUT', `${plan.what} did not complete in time${plan.timeoutNote ?? ''}${why}`, { cause: last });
  }
}
