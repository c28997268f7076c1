/**
 * The key-value client. Written against Endpoint only, so the in-process cluster and a remote
 * cluster share all of it.
 *
 * Writes run under exactly-once sessions (sessions.ts, writer.ts): retried on other nodes and
 * across leader changes with the same identity, applied at most once. A write that fails with
 * TIMEOUT or SESSION_EXPIRED may or may not have been applied (outcome unknown); every other
 * error means it was not. Reads are retried freely (they change nothing).
 *
 * Concurrency: any number of operations may be in flight; writes beyond `sessions` wait for a
 * session (FIFO), within their own timeout. Reads, ranges and watches need no session.
 */
import { randomBytes } from 'node:crypto';
import { TesseraError } from '../errors.ts';
import type { NodeId } from '../raft/types.ts';
import type { KvBlobTable } from '../store/kv-backend.ts';
import type { KvCommand } from '../store/kv-command.ts';
import type { ModelCommand } from '../store/model-command.ts';
import { checkDurationMs } from '../util/duration.ts';
import { casExpected, txnParts, txnResult } from './commands.ts';
import type { Endpoint } from './endpoint.ts';
import { Lifetime, now } from './lifetime.ts';
import { checkRangeSizes, rangeEntries } from './range.ts';
import { barrier, checkConsistency } from './reads.ts';
import { Router } from './router.ts';
import { SessionPool } from './sessions.ts';
import type {
  CasExpected,
  CasResult,
  ClientOptions,
  Consistency,
  DeleteRangeResult,
  DeleteResult,
  OpOptions,
  PutOptions,
  PutResult,
  RangeOptions,
  ReadOptions,
  TxnResult,
  TxnSpec,
  WatchOptions,
} from './types.ts';
import { Watch } from './watch.ts';
import {
  checkedKey,
  decodeMsgpack,
  decodeString,
  encodeKey,
  encodeValue,
  hasPrefix,
  keyRange,
  sameBytes,
  toOptionalEntry,
  type Key,
  type KvEntry,
  type Value,
} from './values.ts';
import { write, type WriteOutcome, type WriterContext } from './writer.ts';

export const CLIENT_DEFAULTS = Object.freeze({
  timeoutMs: 15_000,
  attemptTimeoutMs: 2_000,
  backoff: Object.freeze({ minMs: 10, maxMs: 500 }),
  sessions: 4,
  consistency: 'linearizable' as Consistency,
  watchIdleMs: 1_000,
});

export class Client {
  private readonly life = new Lifetime('client');
  private readonly router: Router;
  private readonly sessions: SessionPool;
  private readonly timeoutMs: number;
  private readonly consistency: Consistency;
  private readonly watchIdleMs: number;
  private readonly writer: WriterContext;
  private observedRevision = 0;
  /** Set once a read barrier guarantees observedRevision is past any earlier use of a given client id. */
  private sinceIsFresh: boolean;

  constructor(endpoints: readonly Endpoint[], options: ClientOptions = {}) {
    this.timeoutMs = checkDurationMs('timeoutMs', options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs);
    this.watchIdleMs = checkDurationMs('watchIdleMs', options.watchIdleMs ?? CLIENT_DEFAULTS.watchIdleMs);
    this.consistency = checkConsistency(options.consistency ?? CLIENT_DEFAULTS.consistency);
    const backoff = options.backoff ?? CLIENT_DEFAULTS.backoff;
    checkDurationMs('backoff.minMs', backoff.minMs);
    if (!(backoff.maxMs >= backoff.minMs)) throw new TesseraError('INVALID_ARGUMENT', 'backoff.maxMs must be >= backoff.minMs');
    this.router = new Router(endpoints, this.life, {
      attemptTimeoutMs: checkDurationMs('attemptTimeoutMs', options.attemptTimeoutMs ?? CLIENT_DEFAULTS.attemptTimeoutMs),
      backoff,
    });
    this.sessions = new SessionPool(options.clientId ?? `c-${randomBytes(12).toString('base64url')}`, options.sessions ?? CLIENT_DEFAULTS.sessions);
    // A random id is new to the cluster. A given one may have been used by an earlier client,
    // whose sessions may still be live: ours must open with a greater `since` (or a copy of
    // "seq 1" would be answered from the old session's cache), so the first session waits for
    // a read barrier, whose index is past every session opened before this client existed.
    this.sinceIsFresh = options.clientId === undefined;
    this.writer = {
      router: this.router,
      sessions: this.sessions,
      life: this.life,
      observed: () => this.observedRevision,
      observe: (r) => this.observe(r),
      beforeOpen: async (deadline) => {
        if (this.sinceIsFresh) return;
        this.observe(await this.router.run({ target: 'any', deadline, what: 'session open' }, (ep) => ep.readBarrier()));
        this.sinceIsFresh = true;
      },
    };
  }

  get closed(): boolean {
    return this.life.closed;
  }

  /** The highest revision this client has seen in a result or a read barrier. */
  get lastRevision(): number {
    return this.observedRevision;
  }

  /** The leader this client last reached, 0 if unknown. */
  get leader(): number {
    return this.router.leader;
  }

  async put(key: Key, value: Value, options: PutOptions = {}): Promise<PutResult> {
    this.life.check();
    const k = checkedKey(key);
    const withPrev = options.prevKv === true;
    const cmd: KvCommand = withPrev ? { op: 'put', key: k, value: encodeValue(value) } : { op: 'put', key: k, value: encodeValue(value), withoutPrev: true };
    const res = await this.write(cmd, 'put', options);
    if (!res.ok) throw unexpected('put', res.reason);
    return withPrev ? { revision: res.revision, prev: toOptionalEntry(k, res.prev) } : { revision: res.revision };
  }

  /** The entry under `key`, or null if absent. */
  async get(key: Key, options: ReadOptions = {}): Promise<KvEntry | null> {
    this.life.check();
    const k = checkedKey(key);
    const c = checkConsistency(options.consistency ?? this.consistency);
    const rec = await this.router.run(this.readPlan('get', options), async (ep) => {
      this.observe(await barrier(ep, c, this.observedRevision, now() + this.timeout(options)));
      return ep.get(k);
    });
    return toOptionalEntry(k, rec);
  }

  /** get, with the value decoded as UTF-8. */
  async getString(key: Key, options: ReadOptions = {}): Promise<string | null> {
    const e = await this.get(key, options);
    return e === null ? null : decodeString(e.value);
  }

  /** get, with the value decoded as MessagePack; undefined if the key is absent. */
  async getMsgpack<T = unknown>(key: Key, options: ReadOptions = {}): Promise<T | undefined> {
    const e = await this.get(key, options);
    return e === null ? undefined : decodeMsgpack<T>(e.value);
  }

  async delete(key: Key, options: OpOptions = {}): Promise<DeleteResult> {
    this.life.check();
    const k = checkedKey(key);
    const res = await this.write({ op: 'delete', key: k }, 'delete', options);
    if (!res.ok) throw unexpected('delete', res.reason);
    return { revision: res.revision, deleted: res.prev != null, prev: toOptionalEntry(k, res.prev) };
  }

  /** Deletes a key range, named as for range(): a prefix unless `end` is given. */
  async deleteRange(prefixOrStart: Key, options: OpOptions & { readonly end?: Key | null } = {}): Promise<DeleteRangeResult> {
    this.life.check();
    const { start, end } = keyRange(prefixOrStart, options.end);
    const res = await this.write({ op: 'deleteRange', start, end }, 'deleteRange', options);
    if (!res.ok) throw unexpected('deleteRange', res.reason);
    return { revision: res.revision, deleted: res.deleted ?? 0 };
  }

  /** Writes `value` if the key matches `expected` (see CasExpected), atomically. */
  async cas(key: Key, expected: CasExpected, value: Value, options: OpOptions = {}): Promise<CasResult> {
    this.life.check();
    const k = checkedKey(key);
    const res = await this.write({ op: 'cas', key: k, expected: casExpected(expected), value: encodeValue(value) }, 'cas', options);
    if (!res.ok) {
      if (res.reason !== 'compare_failed') throw unexpected('cas', res.reason);
      return { succeeded: false, current: toOptionalEntry(k, res.current) };
    }
    return { succeeded: true, revision: res.revision, prev: toOptionalEntry(k, res.prev) };
  }

  /** If every compare holds, runs `success`, else `failure`: all or nothing, at one revision. */
  async txn(spec: TxnSpec, options: OpOptions = {}): Promise<TxnResult> {
    this.life.check();
    const { compares, success, failure } = txnParts(spec);
    const cmd: KvCommand = { op: 'txn', compares, success, failure };
    const res = await this.write(cmd, 'txn', options);
    if (!res.ok) throw unexpected('txn', res.reason);
    const succeeded = res.succeeded === true;
    const ran = succeeded ? success : failure;
    const results = (res.results ?? []).map((r, i) => txnResult(r, ran[i]));
    return { succeeded, revision: res.revision, results };
  }

  /**
   * The entries of a key range in key order, paged. `prefixOrStart` is a prefix ('' = all
   * keys) unless options.end is given (see RangeOptions). Throws at once on bad arguments.
   */
  range(prefixOrStart: Key, options: RangeOptions = {}): AsyncGenerator<KvEntry, void, undefined> {
    this.life.check();
    const { start, end } = keyRange(prefixOrStart, options.end);
    checkRangeSizes(options.limit, options.pageSize);
    return rangeEntries(this.router, (r) => this.observe(r), () => this.observedRevision, {
      start,
      end,
      consistency: checkConsistency(options.consistency ?? this.consistency),
      timeoutMs: this.timeout(options),
      ...(options.node !== undefined && { node: this.knownNode(options.node) }),
      ...(options.limit !== undefined && { limit: options.limit }),
      ...(options.pageSize !== undefined && { pageSize: options.pageSize }),
    });
  }

  /**
   * Changes to every key starting with `prefixOrKey` (or to that key only, with exact), from
   * options.fromRevision (default: from now), exactly once and in revision order. Ends with
   * COMPACTED if the cluster no longer holds events that far back. close() it, or break out of
   * the for-await loop, when done.
   */
  watch(prefixOrKey: Key, options: WatchOptions = {}): Watch {
    this.life.check();
    const p = encodeKey(prefixOrKey);
    if (options.exact || p.length > 0) checkedKey(p);
    const matches = options.exact ? (k: Uint8Array) => sameBytes(k, p) : (k: Uint8Array) => hasPrefix(k, p);
    const ctx = { router: this.router, life: this.life.child('watch'), idleMs: this.watchIdleMs, observe: (r: number) => this.observe(r) };
    return new Watch(ctx, matches, options.fromRevision, options.pageSize);
  }

  /**
   * Runs a model command of the tensor layer (chunk writes, version commits, parameter pushes)
   * under the client's exactly-once sessions. Resolves with the state machine's answer, its
   * refusals included (missing_chunks, head_moved, param_wait, ...): they are the caller's to read.
   */
  async modelCommand(cmd: ModelCommand, options: OpOptions = {}): Promise<WriteOutcome> {
    this.life.check();
    return this.write(cmd, cmd.op, options);
  }

  /**
   * A record of the chunk or parameter table, read at `consistency` (default: the client's),
   * from a state at least as new as `minRevision`: a chunk named by a version committed at
   * revision R is on every node that applied R, so loads can spread over all replicas.
   */
  async readTable(table: KvBlobTable, key: Uint8Array, options: ReadOptions & { readonly minRevision?: number } = {}): Promise<Uint8Array | null> {
    this.life.check();
    const c = checkConsistency(options.consistency ?? this.consistency);
    const minRevision = options.minRevision ?? 0;
    const plan = this.readPlan(`read ${table}`, options);
    return this.router.run(plan, async (ep) => {
      this.observe(await barrier(ep, c, Math.max(minRevision, this.observedRevision), plan.deadline));
      return ep.readTable(table, key);
    });
  }

  /** A linearizable read point: every write acknowledged before this call has a revision <= it. */
  async revision(options: OpOptions = {}): Promise<number> {
    this.life.check();
    const index = await this.router.run(this.readPlan('revision', options), (ep) => ep.readBarrier());
    this.observe(index);
    return index;
  }

  /** Fails every pending and later operation with CLOSED; ends watches. Idempotent. */
  close(): Promise<void> {
    this.life.close();
    return Promise.resolve();
  }

  private write(cmd: KvCommand, what: string, options: OpOptions) {
    return write(this.writer, cmd, what, this.timeout(options));
  }

  private readPlan(what: string, options: ReadOptions) {
    return { target: 'any' as const, deadline: now() + this.timeout(options), what, ...(options.node !== undefined && { prefer: this.knownNode(options.node) }) };
  }

  /** A read's `node` option: one of this client's nodes (a stopped one is fine: the read fails over). */
  private knownNode(id: NodeId): NodeId {
    if (!this.router.knows(id)) throw new TesseraError('INVALID_ARGUMENT', `no node ${String(id)} among this client's nodes (${this.router.ids.join(', ')})`);
    return id;
  }

  private timeout(options: OpOptions): number {
    return options.timeoutMs === undefined ? this.timeoutMs : checkDurationMs('timeoutMs', options.timeoutMs);
  }

  private observe(revision: number): void {
    if (revision > this.observedRevision) this.observedRevision = revision;
  }
}

function unexpected(what: string, reason: string): TesseraError {
  return new TesseraError('INVARIANT', `${what}: unexpected result ${reason}`);
}
