import { HeartlineError } from '../errors/heartline-error.js';
import { checkLogger, checkNumber, invalidConfig } from '../errors/invalid-config.js';
import { createConsoleLogger, type LogFields, type Logger } from '../transport/logger.js';
import { logErr } from '../transport/log-fields.js';
import { now } from '../transport/clock.js';

/**
 * What `callLogger` reads of a call: the part a consumer's `ClientCall` and a
 * provider's `ServerCall` share (`peer` and `connectionId` only on the provider).
 */
export interface LoggedCall {
  readonly service: string;
  readonly method: string;
  /** The consumer's address, on the provider side. */
  readonly peer?: string;
  /** The id of the consumer's connection, on the provider side. */
  readonly connectionId?: number;
  /** The call's attachments: only their keys are logged, unless `attachments: 'values'`. */
  readonly attachments?: Readonly<Record<string, unknown>>;
}

/**
 * An interceptor that works on both sides: assignable to `ClientInterceptor`
 * (`client.use`, a reference's `interceptors`) and to `ServerInterceptor`
 * (`server.use`, a service's `interceptors`). It never changes the call.
 */
export type CallObserver = (call: LoggedCall, next: () => Promise<unknown>) => Promise<unknown>;

/** Options of `callLogger`. */
export interface CallLoggerOptions {
  /**
   * Where the lines go: a call that succeeded to `logger[level]` (or `warn`
   * when the logger has no such method), one that failed to `logger.warn`.
   * Default: a console logger writing every level to stderr (the library's
   * default logger drops `info`; asking for `callLogger` is asking for its lines).
   */
  logger?: Logger;
  /** The level of a call that succeeded: `'info'` (default) or `'debug'`. A failure is always `warn`. */
  level?: 'info' | 'debug';
  /**
   * Which calls are logged: `'all'` (default) or `'failures'` (only calls
   * that failed).
   */
  calls?: 'all' | 'failures';
  /**
   * With `calls: 'all'`, a call that succeeded is logged only when it took
   * at least this long, in ms: 0 (default) logs every call, 500 logs failures
   * and calls of 500 ms or more. A failure is always logged.
   */
  slowerThan?: number;
  /**
   * What of the call's attachments a line carries, in its `attachments` field:
   * `'keys'` (default: their names, never their values, which may be
   * credentials), `'values'` (the attachments themselves: ask for it only
   * where no attachment holds a secret) or `'none'`.
   */
  attachments?: 'keys' | 'values' | 'none';
}

/** callLogger's default: every level, on stderr. */
const callLines = createConsoleLogger({ level: 'debug' });

/**
 * A per-call log line, on either side: `client.use(callLogger())` logs each
 * call a consumer makes (one line per logical call, however many attempts
 * failover takes), `server.use(callLogger())` each call a provider serves.
 *
 * Each line names `service#method` and gives the duration in ms (from this
 * interceptor to the end of the calls it wraps: the interceptors after it,
 * and the call or handler), the outcome, and for a failure the error as `err`
 * (a `HeartlineError`; any other error thrown by a handler is wrapped as
 * HANDLER_ERROR) and its code. Fields:
 * `{ side, service, method, duration, outcome, code?, err?, peer?, connectionId?, attachments? }`.
 *
 * The interceptor only observes: it returns the result and rethrows the error
 * it sees, unchanged. A logger that throws is ignored: logging never fails a
 * call. Options are checked at once (INVALID_CONFIG naming the option).
 */
export function callLogger(options: CallLoggerOptions = {}): CallObserver {
  if (typeof options !== 'object' || options === null) throw invalidConfig('callLogger options', 'an object', options);
  const logger = checkLogger<Logger>('callLogger logger', options.logger) ?? callLines;
  const calls = options.calls ?? 'all';
  if (calls !== 'all' && calls !== 'failures') throw invalidConfig('callLogger calls', "'all' or 'failures'", calls);
  const level = options.level ?? 'info';
  if (level !== 'info' && level !== 'debug') throw invalidConfig('callLogger level', "'info' or 'debug'", level);
  const attachments = options.attachments ?? 'keys';
  if (attachments !== 'keys' && attachments !== 'values' && attachments !== 'none') throw invalidConfig('callLogger attachments', "'keys', 'values' or 'none'", attachments);
  const slowerThan = checkNumber('callLogger slowerThan', options.slowerThan, { min: 0 }) ?? 0;
  const logSuccesses = calls === 'all';
  const how: LineOptions = { level, attachments };

  return async (call, next) => {
    const start = now();
    let result: unknown;
    try {
      result = await next();
    } catch (err) {
      log(logger, how, call, now() - start, err);
      throw err;
    }
    const duration = now() - start;
    if (logSuccesses && duration >= slowerThan) log(logger, how, call, duration, undefined);
    return result;
  };
}

interface LineOptions {
  level: 'info' | 'debug';
  attachments: 'keys' | 'values' | 'none';
}

/** Writes one line; a logger that throws is ignored. `error` undefined means the call succeeded. */
function log(logger: Logger, how: LineOptions, call: LoggedCall, duration: number, error: unknown): void {
  try {
    const side = typeof call.peer === 'string' ? 'server' : 'client';
    const name = `${call.service}#${call.method}`;
    const ms = Math.round(duration * 10) / 10;
    const fields: LogFields = { side, service: call.service, method: call.method, duration: ms, outcome: error === undefined ? 'ok' : 'error' };
    if (side === 'server') {
      fields.peer = call.peer;
      if (call.connectionId !== undefined) fields.connectionId = call.connectionId;
    }
    const a = call.attachments;
    if (how.attachments !== 'none' && typeof a === 'object' && a !== null) {
      const keys = Object.keys(a);
      if (keys.length > 0) fields.attachments = how.attachments === 'keys' ? keys : { ...a };
    }
    if (error === undefined) {
      const line = `${side === 'server' ? 'served' : 'called'} ${name}: ok in ${ms} ms`;
      const write = logger[how.level];
      if (typeof write === 'function') write.call(logger, fields, line);
      else logger.warn(fields, line);
      return;
    }
    const code = errorCode(error);
    fields.code = code;
    fields.err = logErr(error);
    logger.warn(fields, `${side === 'server' ? 'served' : 'called'} ${name}: ${code} in ${ms} ms: ${errorMessage(error)}`);
  } catch {
    // A logger that throws (or a call whose getters do) must not change the outcome of the call it logs.
  }
}

function errorCode(error: unknown): string {
  if (error instanceof HeartlineError) return error.code;
  try {
    return error instanceof Error ? String(error.name) : typeof error;
  } catch {
    return 'Error';
  }
}

function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return '(unreadable error)';
  }
}
