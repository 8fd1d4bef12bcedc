/** The fields of one log line: `peer`, `connectionId`, `service`, `method`, `err`… (README "Logs"). */
export type LogFields = Record<string, unknown>;

/**
 * Where Heartline reports what it cannot throw to a caller: protocol errors and
 * dead or misbehaving peers (`warn`); handlers that throw or reject, one-way ones
 * included, each logged once by the server (`error`, test/integration/handler-errors-log.test.ts);
 * event and `onRelease` listeners that throw; failsafe failures.
 *
 * Structured and pino-compatible: fields first, then the message, so a pino
 * logger (`new Server({ logger: pino() })`) can be passed as it is. Each line
 * carries `peer` and `connectionId` where there is a connection, `service` and
 * `method` where there is a call, and an error as `err` (a `HeartlineError`,
 * with its `code`). Attachment values and credentials are never logged.
 */
export interface Logger {
  warn(obj: LogFields, msg: string): void;
  error(obj: LogFields, msg: string): void;
  /**
   * Optional: routine events, for example a successful call logged by the
   * `callLogger` interceptor. Heartline itself never logs at `info`.
   */
  info?(obj: LogFields, msg: string): void;
  /** Optional; Heartline itself never logs at `debug` (`callLogger` may, with its `level` option). */
  debug?(obj: LogFields, msg: string): void;
  /**
   * Optional: a logger that adds `bindings` to every line. Heartline calls it
   * once per connection (never per call); without it, Heartline merges the
   * fields itself (`withFields`).
   */
  child?(bindings: LogFields): Logger;
}

/** The levels of `createConsoleLogger`, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options of `createConsoleLogger`. */
export interface ConsoleLoggerOptions {
  /** The lowest level written: lines below it are dropped. Default `'warn'`. */
  level?: LogLevel;
  /** Where lines go, one `write` per line. Default: `process.stderr` (every level). */
  write?: (line: string) => void;
}

/**
 * A logger that writes one line per event, every level on stderr:
 * `[heartline] <level> <message> key=value …`. Lines below `level` (default
 * `'warn'`) are dropped, so by default only `warn` and `error` are written.
 * Field values are compact (strings longer than 200 characters are cut, an
 * error shows as its code and message), the message is cut at 1000
 * characters (it may quote a peer: a provider's error message), and line
 * breaks and other control characters (terminal escape sequences) are
 * escaped, so a peer can neither forge a line nor flood the log.
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'warn'];
  if (min === undefined) throw new TypeError(`createConsoleLogger level: expected 'debug', 'info', 'warn' or 'error', got ${String(options.level)}`);
  const write = options.write ?? ((line: string) => void process.stderr.write(line + '\n'));
  const at = (level: LogLevel) =>
    RANK[level] < min ? () => {} : (obj: LogFields, msg: string) => write(formatLine(level, obj, msg));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The default logger: `warn` and `error` on stderr, one line each; `info` and `debug` dropped. */
export const consoleLogger: Logger = createConsoleLogger();

/** A logger that drops everything, for tests and benchmarks. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

const MAX_VALUE = 200;
/** Longest message written, in characters: a message may quote a peer's string (a provider's error message). */
const MAX_MESSAGE = 1000;

/** `[heartline] warn <msg> k=v k=v`, on one line whatever the message and values hold. Never throws. */
export function formatLine(level: LogLevel, obj: LogFields, msg: string): string {
  let line = `[heartline] ${level} ${oneLine(cut(String(msg), MAX_MESSAGE))}`;
  try {
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      if (value !== undefined) line += ` ${oneLine(key)}=${compact(value)}`;
    }
  } catch {
    line += ' (unreadable fields)';
  }
  return line;
}

function compact(value: unknown): string {
  try {
    if (typeof value === 'string') return quote(value);
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === null) return String(value);
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return `${typeof code === 'string' ? code : value.name}:${quote(String(value.message))}`;
    }
    return quote(JSON.stringify(value) ?? String(value));
  } catch {
    return '(unreadable)';
  }
}

/** Bare when it is one plain word, else JSON-quoted (which escapes line breaks), control characters escaped; cut at 200 characters. */
function quote(s: string): string {
  const short = cut(s, MAX_VALUE);
  return /^[\w.:/@#[\]-]+$/.test(short) ? short : oneLine(JSON.stringify(short));
}

function cut(s: string, max: number): string {
  return s.length > max ? s.slice(0, max) + '…' : s;
}

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators: a line break or a terminal escape sequence. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function oneLine(s: string): string {
  return s.replace(CONTROL, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
