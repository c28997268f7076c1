/**
 * Client histories of the key-value register store (JSON Lines, Jepsen style; see DESIGN.md
 * "Simulator"). Line order is the real-time order; the `time` field is informational only, because
 * simulated clocks may be skewed and only the recording order is trustworthy.
 */

export type Value = string | null;
export type Fn = 'put' | 'get' | 'cas' | 'delete';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type CasArg = readonly [expected: Value, next: Value];
export type EventValue = Value | CasArg;

export interface HistoryEvent {
  process: number;
  type: EventType;
  f: Fn;
  key: string;
  value: EventValue;
  time?: number;
}

interface OpCommon {
  /** Position in `pairOperations`' result; the checker uses it as a dense index. */
  id: number;
  process: number;
  key: string;
  /** Line index (0-based) of the invoke. */
  callIndex: number;
  /** Line index (0-based) of the completion; Infinity when the outcome is unknown. */
  returnIndex: number;
  status: 'ok' | 'info';
}

export type Operation = OpCommon &
  (
    | { f: 'put'; input: string; output: null }
    | { f: 'delete'; input: null; output: null }
    // An info get observed nothing, so its output is undefined rather than a value.
    | { f: 'get'; input: null; output: Value | undefined }
    | { f: 'cas'; input: CasArg; output: null }
  );

export class HistoryError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`history line ${line}: ${message}`);
    this.name = 'HistoryError';
  }
}

const FNS: ReadonlySet<string> = new Set<Fn>(['put', 'get', 'cas', 'delete']);
const TYPES: ReadonlySet<string> = new Set<EventType>(['invoke', 'ok', 'fail', 'info']);

function isValue(v: unknown): v is Value {
  return v === null || typeof v === 'string';
}

function isCasArg(v: unknown): v is CasArg {
  return Array.isArray(v) && v.length === 2 && isValue(v[0]) && isValue(v[1]);
}

/** Checks one event's shape; `line` is 1-based and only used in the error message. */
export function validateEvent(raw: unknown, line: number): HistoryEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HistoryError(line, 'expected a JSON object');
  }
  const e = raw as Record<string, unknown>;
  if (typeof e.process !== 'number' || !Number.isSafeInteger(e.process)) {
    throw new HistoryError(line, `"process" must be an integer, got ${JSON.stringify(e.process)}`);
  }
  if (typeof e.type !== 'string' || !TYPES.has(e.type)) {
    throw new HistoryError(line, `"type" must be invoke|ok|fail|info, got ${JSON.stringify(e.type)}`);
  }
  if (typeof e.f !== 'string' || !FNS.has(e.f)) {
    throw new HistoryError(line, `"f" must be put|get|cas|delete, got ${JSON.stringify(e.f)}`);
  }
  if (typeof e.key !== 'string') {
    throw new HistoryError(line, `"key" must be a string, got ${JSON.stringify(e.key)}`);
  }
  if (e.time !== undefined && typeof e.time !== 'number') {
    throw new HistoryError(line, `"time" must be a number, got ${JSON.stringify(e.time)}`);
  }
  const event = e as unknown as HistoryEvent;
  const bad = valueProblem(event);
  if (bad !== undefined) throw new HistoryError(line, bad);
  return event;
}

function valueProblem(e: HistoryEvent): string | undefined {
  const v: unknown = e.value;
  const shown = JSON.stringify(v);
  if (e.type !== 'invoke') {
    // Completions of writes may echo their arguments or carry nothing; only a get's read matters.
    return isValue(v) || isCasArg(v) ? undefined : `"value" of a ${e.f} ${e.type} is malformed: ${shown}`;
  }
  switch (e.f) {
    case 'put':
      return typeof v === 'string' ? undefined : `put invoke needs a string value, got ${shown}`;
    case 'delete':
    case 'get':
      return v === null ? undefined : `${e.f} invoke needs value null, got ${shown}`;
    case 'cas':
      return isCasArg(v) ? undefined : `cas invoke needs [expected, new], got ${shown}`;
  }
}

export function parseHistory(jsonl: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = jsonl.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = (lines[i] ?? '').trim();
    if (text === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new HistoryError(i + 1, `not valid JSON (${(err as Error).message})`);
    }
    events.push(validateEvent(raw, i + 1));
  }
  return events;
}

export function toJsonl(events: readonly HistoryEvent[]): string {
  // Fixed key order keeps files diffable and trace hashes stable.
  return events
    .map((e) => {
      const { process, type, f, key, value, time } = e;
      return JSON.stringify(time === undefined ? { process, type, f, key, value } : { process, type, f, key, value, time });
    })
    .map((line) => line + '\n')
    .join('');
}

/**
 * Pairs each invoke with its completion. `fail` operations certainly had no effect, so they are
 * dropped; invokes that never complete are kept as `info` because they may have taken effect.
 * Throws `HistoryError` (1-based line numbers, counting events) on a malformed history.
 */
export function pairOperations(events: readonly HistoryEvent[]): Operation[] {
  const pending = new Map<number, { event: HistoryEvent; index: number }>();
  const retired = new Map<number, number>(); // process -> line of its info
  const completed: { invoke: HistoryEvent; callIndex: number; done: HistoryEvent | undefined; returnIndex: number }[] = [];

  events.forEach((raw, index) => {
    const line = index + 1;
    const e = validateEvent(raw, line);
    const retiredAt = retired.get(e.process);
    if (retiredAt !== undefined) {
      throw new HistoryError(line, `process ${e.process} issued after its info on line ${retiredAt}; a crashed process must not reappear`);
    }
    const open = pending.get(e.process);
    if (e.type === 'invoke') {
      if (open !== undefined) {
        throw new HistoryError(line, `process ${e.process} invoked ${e.f} while its ${open.event.f} from line ${open.index + 1} is outstanding`);
      }
      pending.set(e.process, { event: e, index });
      return;
    }
    if (open === undefined) {
      throw new HistoryError(line, `${e.type} for process ${e.process} has no outstanding invoke`);
    }
    if (open.event.f !== e.f || open.event.key !== e.key) {
      throw new HistoryError(
        line,
        `${e.type} ${e.f} ${JSON.stringify(e.key)} does not match process ${e.process}'s invoke ${open.event.f} ${JSON.stringify(open.event.key)} on line ${open.index + 1}`,
      );
    }
    pending.delete(e.process);
    if (e.type === 'info') retired.set(e.process, line);
    if (e.type !== 'fail') completed.push({ invoke: open.event, callIndex: open.index, done: e, returnIndex: e.type === 'ok' ? index : Infinity });
  });
  for (const { event, index } of pending.values()) {
    completed.push({ invoke: event, callIndex: index, done: undefined, returnIndex: Infinity });
  }
  completed.sort((a, b) => a.callIndex - b.callIndex);
  return completed.map((c, id) => makeOperation(id, c.invoke, c.callIndex, c.done, c.returnIndex));
}

function makeOperation(id: number, invoke: HistoryEvent, callIndex: number, done: HistoryEvent | undefined, returnIndex: number): Operation {
  const status = done?.type === 'ok' ? 'ok' : 'info';
  const common = { id, process: invoke.process, key: invoke.key, callIndex, returnIndex, status } as const;
  // Shapes were checked by validateEvent; the casts only narrow what it already proved.
  switch (invoke.f) {
    case 'put':
      return { ...common, f: 'put', input: invoke.value as string, output: null };
    case 'delete':
      return { ...common, f: 'delete', input: null, output: null };
    case 'cas':
      return { ...common, f: 'cas', input: invoke.value as CasArg, output: null };
    case 'get': {
      if (done === undefined || status !== 'ok') return { ...common, f: 'get', input: null, output: undefined };
      if (!isValue(done.value)) throw new HistoryError(returnIndex + 1, `get ok must carry a string or null, got ${JSON.stringify(done.value)}`);
      return { ...common, f: 'get', input: null, output: done.value };
    }
  }
}
