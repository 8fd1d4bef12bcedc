import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';
import { logErr } from './log-fields.js';

/**
 * The one path by which Heartline calls user listeners (`connect`,
 * `disconnect`, `reconnect` of Client and Server, a callback's `onRelease`):
 * each runs in its own try/catch, and a promise it returns gets a rejection
 * handler, so one that throws or rejects is logged and neither stops the others
 * nor escapes into the socket handler that called it (whose cleanup must
 * finish). Never throws.
 */
export function emitGuarded<T extends Record<keyof T, unknown[]>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  logger: Logger,
  event: K,
  ...args: T[K]
): boolean {
  // rawListeners: `once` wrappers, which remove themselves when called. A copy, so listeners may add or remove listeners.
  const listeners = (emitter as unknown as EventEmitter).rawListeners(event) as Array<(...a: unknown[]) => unknown>;
  for (const listener of listeners) callGuarded(logger, `a '${event}' listener`, listener, emitter, args);
  return listeners.length > 0;
}

/** Calls one user function as `emitGuarded` calls a listener; `what` names it in the log line. Never throws. */
export function callGuarded(logger: Logger, what: string, fn: Function, thisArg?: unknown, args: readonly unknown[] = []): void {
  try {
    const result: unknown = fn.apply(thisArg, args);
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, (err: unknown) => report(logger, what, err));
    }
  } catch (err) {
    report(logger, what, err);
  }
}

function report(logger: Logger, what: string, err: unknown): void {
  try {
    logger.error({ err: logErr(err) }, `${what} threw: ${describe(err)}`);
  } catch {
    // a throwing logger must not break cleanup either
  }
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? String(err.message) : String(err);
  } catch {
    return 'an unreadable error';
  }
}
