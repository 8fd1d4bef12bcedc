import { HeartlineError } from '../index.js';

/**
 * The exit codes of `heartline`:
 *
 * | code | when |
 * |---|---|
 * | 0 | success |
 * | 1 | the command failed: a call's error, the provider unreachable, a timeout (the error code is printed) |
 * | 2 | usage: an unknown command or option, a bad address, bad JSON arguments, an unreadable file |
 * | 3 | `health`: the provider answered, with a status other than `SERVING` |
 */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, notServing: 3 });

/** A mistake on the command line: printed as `error USAGE: message`, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = 'USAGE';
}

/** A failure the CLI detects itself, with a Heartline code (SERVICE_NOT_FOUND before any call). */
export function failure(code: HeartlineError['code'], message: string): HeartlineError {
  return new HeartlineError(code, message);
}

/** What is printed for a failure: its code and message, never a stack. */
export interface Failure {
  code: string;
  message: string;
  /** The `name` of the error the remote handler threw (`RangeError`), when it said. */
  remoteName?: string;
  /** Extra data from the provider's error body, when there is some. */
  details?: unknown;
}

/** The code, message and exit status of anything a command threw. */
export function describeFailure(err: unknown): { failure: Failure; exit: number } {
  if (err instanceof UsageError) return { failure: { code: 'USAGE', message: err.message }, exit: EXIT.usage };
  if (err instanceof HeartlineError) {
    const f: Failure = { code: err.code, message: err.message };
    if (err.remoteName !== undefined && err.remoteName !== 'Error' && err.remoteName !== 'HeartlineError') f.remoteName = err.remoteName;
    if (err.details !== undefined) f.details = err.details;
    return { failure: f, exit: err.code === 'INVALID_CONFIG' ? EXIT.usage : EXIT.failed };
  }
  // Not ours (a bug, or a library's own error): still one line, no stack.
  const message = err instanceof Error ? err.message : String(err);
  return { failure: { code: 'INTERNAL', message }, exit: EXIT.failed };
}
