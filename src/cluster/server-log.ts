/**
 * Structured logs of a server: one JSON object per line, `{"time", "level", "msg", "fields"}`,
 * on stderr by default, so a supervisor (systemd, Kubernetes) can collect and query them. A
 * logger never throws: a field JSON cannot hold (a cycle, a BigInt) is replaced, not fatal.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;
export type Logger = (level: LogLevel, msg: string, fields?: LogFields) => void;

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface JsonLinesLoggerOptions {
  /** Where each line goes (with its newline). Default: process.stderr. */
  readonly write?: (line: string) => void;
  /** Lines below this level are dropped. Default 'info'. */
  readonly level?: LogLevel;
  readonly now?: () => Date;
}

export function jsonLinesLogger(options: JsonLinesLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const min = LOG_LEVELS.indexOf(options.level ?? 'info');
  const now = options.now ?? (() => new Date());
  return (level, msg, fields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const entry = { time: now().toISOString(), level, msg, ...(fields && Object.keys(fields).length > 0 && { fields }) };
    let line: string;
    try {
      line = JSON.stringify(entry, replacer);
    } catch (e) {
      line = JSON.stringify({ time: entry.time, level, msg, fields: { unserializable: String(e) } });
    }
    try {
      write(`${line}\n`);
    } catch {
      // A closed stderr must not take the server down with it.
    }
  };
}

export const silentLogger: Logger = () => {};

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { ...(typeof code === 'string' && { code }), message: value.message };
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { bytes: value.byteLength };
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}
