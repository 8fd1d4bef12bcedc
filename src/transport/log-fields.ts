import type { ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { consoleLogger, silentLogger, type LogFields, type Logger } from './logger.js';

/**
 * A logger that adds `fields` to every line: the logger's own `child` when it
 * has one (pino's), else merging them itself (a line's own fields win). Made
 * once per connection (`{ peer, connectionId }`), never per call. Its lines
 * never throw: a logger that throws is ignored (it must not break the
 * connection whose line it writes), and a `child` that throws or returns
 * something that is not a logger falls back to merging. Never throws.
 */
export function withFields(logger: Logger, fields: LogFields): Logger {
  if (logger instanceof BoundLogger) return logger.child(fields); // already guarded: one wrapper, not two
  if (typeof logger.child === 'function') {
    try {
      const child = logger.child(fields);
      if (typeof child?.warn === 'function' && typeof child.error === 'function') return new BoundLogger(child, undefined);
    } catch {
      // a broken child() must not break the connection: merge the fields ourselves
    }
  }
  return new BoundLogger(logger, fields);
}

/**
 * The user's logger as Heartline keeps it (the `logger` option of a Client,
 * Server, EtcdRegistry or DnsDirectory): its lines never throw, so that a
 * logger that fails cannot change a call's outcome (cluster 'failsafe') or
 * throw out of a socket or timer callback (a shed connection, a TLS
 * failure, a DNS lookup) and crash the process. Lines go to it as they are.
 */
export function guardedLogger(logger: Logger): Logger {
  if (logger === silentLogger || logger === consoleLogger || logger instanceof BoundLogger) return logger; // these never throw
  return new BoundLogger(logger, undefined);
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** `withFields`' logger: `info` and `debug` only where the target has them. */
class BoundLogger implements Logger {
  info?: (obj: LogFields, msg: string) => void;
  debug?: (obj: LogFields, msg: string) => void;

  constructor(
    private readonly target: Logger,
    /** Merged into each line; undefined when `target` is a child that adds them. */
    private readonly fields: LogFields | undefined,
  ) {
    if (typeof target.info === 'function') this.info = (obj, msg) => this.write('info', obj, msg);
    if (typeof target.debug === 'function') this.debug = (obj, msg) => this.write('debug', obj, msg);
  }

  warn(obj: LogFields, msg: string): void {
    this.write('warn', obj, msg);
  }

  error(obj: LogFields, msg: string): void {
    this.write('error', obj, msg);
  }

  child(bindings: LogFields): Logger {
    return this.fields === undefined ? withFields(this.target, bindings) : new BoundLogger(this.target, { ...this.fields, ...bindings });
  }

  private write(level: Level, obj: LogFields, msg: string): void {
    try {
      // called as a method of the target: pino's need their `this`
      this.target[level]!(this.fields === undefined ? obj : { ...this.fields, ...obj }, msg);
    } catch {
      // a throwing logger must not break the connection whose line this is
    }
  }
}

/**
 * What goes in a line's `err` field: the error itself when it is a
 * `HeartlineError` (its `code` and message), else a `HeartlineError` with
 * `code` (default HANDLER_ERROR: user code failed), the error's message, and
 * the error's own stack (which names it: `TypeError: …`). Not its `cause`:
 * pino's `err` serializer would repeat the message (`kaput: kaput`). Never throws.
 */
export function logErr(error: unknown, code: ErrorCode = 'HANDLER_ERROR'): HeartlineError {
  if (error instanceof HeartlineError) return error;
  let message: string;
  let stack: unknown;
  try {
    message = error instanceof Error ? String(error.message) : String(error);
    stack = error instanceof Error ? error.stack : undefined;
  } catch {
    message = 'an unreadable error';
  }
  const err = new HeartlineError(code, message);
  if (typeof stack === 'string') err.stack = stack;
  return err;
}
