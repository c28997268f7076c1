/**
 * The key-value state machine's semantics over a KvBackend: one apply batch is one backend
 * batch holding the effects of every entry, the session and event bookkeeping, and the applied
 * index/term, so a crash or a rejected batch leaves all of it as it was. Results depend only on
 * the entries, never on how they were split into batches (sessions expire per entry, and the
 * event trim at a batch's end keeps what trimming per entry would), so replicas that batch
 * differently still agree byte for byte.
 */
import { TesseraError } from '../errors.ts';
import { MAX_KEY_BYTES } from '../limits.ts';
import { EntryType, type Entry } from '../raft/types.ts';
import { assert } from '../util/assert.ts';
import { bytesEqual, compareBytes } from '../util/bytes.ts';
import type { KvBackend, KvBlobTable, KvReadView } from './kv-backend.ts';
import { decodeCommand, type KvCommand } from './kv-command.ts';
import { decodeDataRecord, KvData, readDataRecord } from './kv-data.ts';
import { KvEventLog, readEventLog, type KvEvent } from './kv-events.ts';
import { execute } from './kv-execute.ts';
import { DEFAULT_RANGE_LIMIT, MAX_RANGE_LIMIT, type KvLimits } from './kv-limits.ts';
import { encodeApplied, META_APPLIED, readApplied, type AppliedMeta } from './kv-meta.ts';
import type { KvRecord } from './kv-record.ts';
import type { KvResult } from './kv-result.ts';
import { KvSessions } from './kv-sessions.ts';

/** One result per applied entry: null for entries without a command. */
export type KvApplyResult = KvResult | null;

export interface KvKeyRecord {
  readonly key: Uint8Array;
  readonly record: KvRecord;
}

export interface KvRangeOptions {
  /** Most records to return: 1..MAX_RANGE_LIMIT, DEFAULT_RANGE_LIMIT if omitted. */
  readonly limit?: number;
  /** Continue after this key (exclusive): the `after` of the previous page. */
  readonly after?: Uint8Array;
}

export interface KvRangePage {
  readonly records: readonly KvKeyRecord[];
  /** True if the range holds more records past this page. */
  readonly more: boolean;
  /** When `more`: pass as options.after to read the next page. Null otherwise. */
  readonly after: Uint8Array | null;
}

export class KvLogic {
  private applied: AppliedMeta;
  /** Where the last batch that ran whole left the state (committed or not); null: caches cleared. */
  private ranTo: AppliedMeta | null = null;
  private readonly data: KvData;
  private readonly eventLog: KvEventLog;
  private readonly sessions: KvSessions;

  constructor(
    private readonly backend: KvBackend,
    limits: KvLimits,
  ) {
    checkLimits(limits);
    this.applied = readApplied(backend);
    this.eventLog = new KvEventLog(backend, limits);
    this.sessions = new KvSessions(backend, limits);
    this.data = new KvData(backend, this.eventLog);
  }

  appliedIndex(): number {
    return this.applied.index;
  }

  appliedTerm(): number {
    return this.applied.term;
  }

  apply(entries: readonly Entry[]): KvApplyResult[] {
    if (entries.length === 0) return [];
    const { results, applied } = this.backend.batch(() => this.applyInBatch(entries, this.applied, false));
    // Only once the batch committed: a rejected batch leaves the applied index where it was.
    this.applied = applied;
    return results;
  }

  /**
   * apply() through the backend's batchAsync when it has one: `onResults` as soon as the batch
   * has run (its effects are then fixed: every replica computes the same), `onApplied` once it
   * committed, when appliedIndex() and reads include it. Without batchAsync both run at once.
   */
  applyAsync(entries: readonly Entry[], onResults: (results: KvApplyResult[]) => void, onApplied: (error?: Error) => void): void {
    if (this.backend.batchAsync === undefined || entries.length === 0) {
      let results: KvApplyResult[];
      try {
        results = this.apply(entries);
      } catch (e) {
        return onApplied(e as Error);
      }
      onResults(results);
      return onApplied();
    }
    this.backend.batchAsync<AppliedMeta>(
      () => {
        // Batches queued earlier have run (and committed, or joined this transaction) by now, so
        // the applied point is read from the state itself rather than from this.applied.
        const out = this.applyInBatch(entries, readApplied(this.backend), true);
        queueMicrotask(() => onResults(out.results));
        return out.applied;
      },
      (error, applied) => {
        if (error) return onApplied(error);
        if (applied!.index > this.applied.index) this.applied = applied!;
        onApplied();
      },
      this.flushSessions,
    );
  }

  /** Writes the session records held back, once per commit of asynchronous batches (KvSessions.flush). */
  private readonly flushSessions = (): void => this.sessions.flush();

  /**
   * One batch; `deferSessions`: its session records wait for the backend to call flushSessions
   * before the commit that holds it (asynchronous batches, grouped), else they go now.
   */
  private applyInBatch(entries: readonly Entry[], from: AppliedMeta, deferSessions: boolean): { results: KvApplyResult[]; applied: AppliedMeta } {
    // The caches describe the state the last batch that ran whole here left, and the backend
    // holds that state only if it is at the point that batch left. Otherwise (a batch threw and
    // was rolled back, or a commit was lost) they are dropped before anything reads them.
    const continues = this.ranTo !== null && this.ranTo.index === from.index && this.ranTo.term === from.term;
    if (!continues) this.clearCaches();
    this.ranTo = null;
    this.eventLog.begin();
    this.sessions.begin();
    this.sessions.deferWrites = deferSessions;
    let { index, term } = from;
    const out: KvApplyResult[] = [];
    for (const e of entries) {
      // Checked before asserting: a message thunk would be a closure allocated per entry.
      if (e.index !== index + 1) assert(false, `apply: got index ${e.index}, expected ${index + 1}`);
      if (e.term < term) assert(false, `apply: term ${e.term} at ${e.index} is below ${term}`);
      out.push(this.applyEntry(e));
      index = e.index;
      term = e.term;
    }
    this.eventLog.trim();
    this.eventLog.end();
    if (!deferSessions) this.sessions.flush();
    this.sessions.end();
    const next = { index, term };
    this.backend.put('meta', META_APPLIED, encodeApplied(next));
    this.ranTo = next;
    return { results: out, applied: next };
  }

  private clearCaches(): void {
    this.data.clearCache();
    this.eventLog.clearCache();
    this.sessions.clearCache();
  }

  get(key: Uint8Array): KvRecord | null {
    return readDataRecord(this.backend, key);
  }

  range(start: Uint8Array, end: Uint8Array | null, options: KvRangeOptions = {}): KvRangePage {
    return readRange(this.backend, start, end, options);
  }

  events(fromRevision: number, limit: number, fromSub = 0): KvEvent[] {
    return readEventLog(this.backend, fromRevision, limit, fromSub);
  }

  readTable(table: KvBlobTable, key: Uint8Array): Uint8Array | null {
    return this.backend.get(table, key) ?? null;
  }

  private applyEntry(e: Entry): KvApplyResult {
    // Sessions expire by entries applied, Empty ones included, so expiry is the same everywhere.
    this.sessions.expireIdle(e.index);
    if (!carriesCommand(e)) return null;
    const cmd = decodeShared(e.data);
    if (!cmd.session) return execute(this.backend, this.data, cmd, e.index);
    const admission = this.sessions.admit(cmd.session, e.index);
    if (admission.kind === 'answer') return admission.result;
    const result = execute(this.backend, this.data, cmd, e.index);
    this.sessions.record(cmd.session, e.index, admission.previous, result);
    return result;
  }
}

/**
 * Decoded commands by their entry's bytes. Replicas in one process (the in-process cluster, the
 * simulator) apply the very same entry objects, so each command is decoded once rather than
 * once per replica. Safe because entry bytes are never changed once in a log, decoding is a
 * pure function of them, and nothing changes a decoded command; weak, so it keeps nothing alive.
 */
const decodedCommands = new WeakMap<Uint8Array, KvCommand>();

function decodeShared(data: Uint8Array): KvCommand {
  let cmd = decodedCommands.get(data);
  if (cmd === undefined) {
    cmd = decodeCommand(data);
    decodedCommands.set(data, cmd);
  }
  return cmd;
}

/**
 * Decodes the commands of entries not yet applied into the same cache, so that their apply finds
 * them decoded (StateMachine.prepare). Only what applyEntry would decode. A command that does not
 * decode is left out: its apply decodes it again and fails as it always did.
 */
export function prepareCommands(entries: readonly Entry[]): void {
  for (const e of entries) {
    if (!carriesCommand(e)) continue;
    try {
      decodeShared(e.data);
    } catch {
      // Not cached: apply meets the same error.
    }
  }
}

/**
 * Throws as applyEntry would for a command that does not decode (INVALID_ARGUMENT), so that it
 * is refused before it enters the log. The decode is cached for the apply, as prepare's is.
 */
export function admitCommand(data: Uint8Array): void {
  if (data.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'an empty proposal carries no command');
  decodeShared(data);
}

/** A Normal entry without data is a no-op too (etcd's new leaders append one), not a command. */
function carriesCommand(e: Entry): boolean {
  return e.type !== EntryType.Empty && e.data.length > 0;
}

/** A page of [start, end) in key order; start may be empty (from the first key). */
export function readRange(view: KvReadView, start: Uint8Array, end: Uint8Array | null, options: KvRangeOptions): KvRangePage {
  const limit = options.limit ?? DEFAULT_RANGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT) {
    throw new TesseraError('INVALID_ARGUMENT', `range limit ${limit} is not in 1..${MAX_RANGE_LIMIT}`);
  }
  for (const k of [start, end, options.after]) {
    if (k && k.length > MAX_KEY_BYTES) throw new TesseraError('KEY_TOO_LONG', `range bound is ${k.length} bytes, limit ${MAX_KEY_BYTES}`);
  }
  // Scan from `after` inclusive and skip it: its successor may be too long to be a key.
  const after = options.after;
  const from = after !== undefined && compareBytes(after, start) >= 0 ? after : start;
  const none: KvRangePage = { records: [], more: false, after: null };
  if (end !== null && compareBytes(from, end) >= 0) return none;
  let page = view.range('data', from, end, limit + 2);
  if (after !== undefined && page[0] !== undefined && bytesEqual(page[0].key, after)) page = page.slice(1);
  const more = page.length > limit;
  const records = page.slice(0, limit).map(({ key, value }) => ({ key, record: decodeDataRecord(key, value) }));
  return { records, more, after: more ? records[records.length - 1]!.key : null };
}

function checkLimits(l: KvLimits): void {
  for (const [name, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new TesseraError('INVALID_ARGUMENT', `kv limit ${name} must be a positive integer, got ${v}`);
  }
}
