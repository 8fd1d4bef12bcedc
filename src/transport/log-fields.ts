import type { ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { LogFields, Logger } from './logger.js';

/**
 * A logger that adds `fields` to every line: the logger's own `child` when it
 * has one (pino's), else a wrapper that merges them (a line's own fields win).
 * Made once per connection (`{ peer, connectionId }`), never per call. A
 * `child` that throws or returns something that is not a logger falls back to
 * the wrapper. Never throws.
 */
export function withFields(logger: Logger, fields: LogFields): Logger {
  if (typeof logger.child === 'function') {
    try {
      const child = logger.child(fields);
      if (typeof child?.warn === 'function' && typeof child.error === 'function') return child;
    } catch {
      // a broken child() must not break the connection: merge the fields ourselves
    }
  }
  return new FieldsLogger(logger, fields);
}

/** `withFields` for a logger without `child`: `info` and `debug` only where the logger has them. */
class FieldsLogger implements Logger {
  info?: (obj: LogFields, msg: string) => void;
  debug?: (obj: LogFields, msg: string) => void;

  constructor(
    private readonly base: Logger,
    private readonly fields: LogFields,
  ) {
    if (typeof base.info === 'function') this.info = (obj, msg) => base.info!({ ...this.fields, ...obj }, msg);
    if (typeof base.debug === 'function') this.debug = (obj, msg) => base.debug!({ ...this.fields, ...obj }, msg);
  }

  warn(obj: LogFields, msg: string): void {
    this.base.warn({ ...this.fields, ...obj }, msg);
  }

  error(obj: LogFields, msg: string): void {
    this.base.error({ ...this.fields, ...obj }, msg);
  }

  child(bindings: LogFields): Logger {
    return new FieldsLogger(this.base, { ...this.fields, ...bindings });
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
