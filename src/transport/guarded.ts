import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';

/**
 * The one path by which Heartline calls user listeners (`connect`,
 * `disconnect`, `reconnect` of Client and Server): each listener runs in its
 * own try/catch, so one that throws is logged and neither stops the others nor
 * escapes into the socket handler that emitted the event (whose cleanup must
 * finish). Returns true when the event had listeners. Never throws.
 */
export function emitGuarded<T extends Record<keyof T, unknown[]>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  logger: Logger,
  event: K,
  ...args: T[K]
): boolean {
  // rawListeners: `once` wrappers, which remove themselves when called. A copy, so listeners may add or remove listeners.
  const listeners = (emitter as unknown as EventEmitter).rawListeners(event) as Array<(...a: unknown[]) => unknown>;
  for (const listener of listeners) {
    try {
      listener.apply(emitter, args);
    } catch (err) {
      try {
        logger.error(`a '${event}' listener threw: ${describe(err)}`, { event, error: err });
      } catch {
        // a throwing logger must not break cleanup either
      }
    }
  }
  return listeners.length > 0;
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? String(err.message) : String(err);
  } catch {
    return 'an unreadable error';
  }
}
