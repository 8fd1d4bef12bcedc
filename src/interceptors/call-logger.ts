import { HeartlineError } from '../errors/heartline-error.js';
import { checkLogger, checkNumber, invalidConfig } from '../errors/invalid-config.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { now } from '../transport/clock.js';

/**
 * What `callLogger` reads of a call: the part a consumer's `ClientCall` and a
 * provider's `ServerCall` share (`peer` only on the provider).
 */
export interface LoggedCall {
  readonly service: string;
  readonly method: string;
  /** The consumer's address, on the provider side. */
  readonly peer?: string;
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
   * Where the lines go: a call that succeeded to `logger.info` (or `warn`
   * when the logger has no `info`), one that failed to `logger.warn`.
   * Default: `consoleLogger` (stdout for `info`, stderr for `warn`).
   */
  logger?: Logger;
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
}

/**
 * A per-call log line, on either side: `client.use(callLogger())` logs each
 * call a consumer makes (one line per logical call, however many attempts
 * failover takes), `server.use(callLogger())` each call a provider serves.
 *
 * Each line names `service#method` and gives the duration in ms (from this
 * interceptor to the end of the calls it wraps: the interceptors after it,
 * and the call or handler), the outcome, and for a failure the error's code
 * (a `HeartlineError`'s `code`; for any other error thrown by a handler, its
 * `name`). Meta: `{ side, service, method, duration, outcome, code?, peer? }`.
 *
 * The interceptor only observes: it returns the result and rethrows the error
 * it sees, unchanged. A logger that throws is ignored: logging never fails a
 * call. Options are checked at once (INVALID_CONFIG naming the option).
 */
export function callLogger(options: CallLoggerOptions = {}): CallObserver {
  if (typeof options !== 'object' || options === null) throw invalidConfig('callLogger options', 'an object', options);
  const logger = checkLogger<Logger>('callLogger logger', options.logger) ?? consoleLogger;
  const calls = options.calls ?? 'all';
  if (calls !== 'all' && calls !== 'failures') throw invalidConfig('callLogger calls', "'all' or 'failures'", calls);
  const slowerThan = checkNumber('callLogger slowerThan', options.slowerThan, { min: 0 }) ?? 0;
  const logSuccesses = calls === 'all';

  return async (call, next) => {
    const start = now();
    let result: unknown;
    try {
      result = await next();
    } catch (err) {
      log(logger, call, now() - start, err);
      throw err;
    }
    const duration = now() - start;
    if (logSuccesses && duration >= slowerThan) log(logger, call, duration, undefined);
    return result;
  };
}

/** Writes one line; a logger that throws is ignored. `error` undefined means the call succeeded. */
function log(logger: Logger, call: LoggedCall, duration: number, error: unknown): void {
  const side = typeof call.peer === 'string' ? 'server' : 'client';
  const name = `${call.service}#${call.method}`;
  const ms = Math.round(duration * 10) / 10;
  const meta: Record<string, unknown> = { side, service: call.service, method: call.method, duration: ms, outcome: error === undefined ? 'ok' : 'error' };
  if (side === 'server') meta.peer = call.peer;
  try {
    if (error === undefined) {
      const line = `${side === 'server' ? 'served' : 'called'} ${name}: ok in ${ms} ms`;
      if (typeof logger.info === 'function') logger.info(line, meta);
      else logger.warn(line, meta);
      return;
    }
    const code = errorCode(error);
    meta.code = code;
    logger.warn(`${side === 'server' ? 'served' : 'called'} ${name}: ${code} in ${ms} ms: ${errorMessage(error)}`, meta);
  } catch {
    // A logger that throws must not change the outcome of the call it logs.
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
