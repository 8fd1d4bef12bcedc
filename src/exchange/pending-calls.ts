import type { ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { RequestIds } from './request-ids.js';

/** A call waiting for its response. */
export interface PendingCall {
  readonly id: number;
  /** `service#method`, for messages. */
  readonly label: string;
  /** Write sequence number of its request frame; 0 until it is queued. */
  seq: number;
  /** The call's timeout in ms (0 for none), for messages. */
  readonly timeout: number;
  /** Holds the caller's stack, captured when the call was made. */
  readonly origin: Error | undefined;
  resolve(value: unknown): void;
  reject(err: HeartlineError): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The pending table of one connection. Invariant: a call is in the table until
 * it settles, and it settles exactly once: remove it from the table, clear its
 * timer, then resolve or reject.
 *
 * ```
 *   add() --> [ pending ] --response--> take() --> resolve / reject
 *                 |  `--timer fires-------> expire() --> reject TIMEOUT
 *                 `---connection closes---> failAll() --> reject CONNECTION_LOST_*
 * ```
 */
export class PendingCalls {
  private readonly calls = new Map<number, PendingCall>();
  private readonly ids = new RequestIds();
  private readonly inUse = (id: number): boolean => this.calls.has(id);
  /** Responses that arrived for calls no longer pending (timed out or cancelled). */
  lateResponses = 0;

  get size(): number {
    return this.calls.size;
  }

  nextId(): number {
    return this.ids.next(this.inUse);
  }

  add(call: PendingCall, timeoutMs: number, onTimeout: (call: PendingCall) => void): void {
    this.calls.set(call.id, call);
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      call.timer = setTimeout(onTimeout, timeoutMs, call);
    }
  }

  has(call: PendingCall): boolean {
    return this.calls.get(call.id) === call;
  }

  /** Removes and returns the call for a response, or undefined (and counts it) when it is gone. */
  take(id: number): PendingCall | undefined {
    const call = this.calls.get(id);
    if (call === undefined) {
      this.lateResponses++;
      return undefined;
    }
    this.calls.delete(id);
    if (call.timer !== undefined) clearTimeout(call.timer);
    return call;
  }

  /** Settles `call` with `err` if it is still pending. Returns false when it had already settled. */
  fail(call: PendingCall, err: HeartlineError): boolean {
    if (this.calls.get(call.id) !== call) return false;
    this.calls.delete(call.id);
    if (call.timer !== undefined) clearTimeout(call.timer);
    call.reject(withOrigin(err, call.origin));
    return true;
  }

  /**
   * Fails every pending call at once, each with CONNECTION_LOST_WRITTEN or
   * CONNECTION_LOST_UNWRITTEN depending on whether its frame reached the socket.
   */
  failAll(flushedSeq: number, why: string, cause?: unknown): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      const written = call.seq !== 0 && call.seq <= flushedSeq;
      const code: ErrorCode = written ? 'CONNECTION_LOST_WRITTEN' : 'CONNECTION_LOST_UNWRITTEN';
      const message = `${call.label}: ${why} (request ${written ? 'was written, outcome unknown' : 'was not written'})`;
      call.reject(withOrigin(new HeartlineError(code, message, { cause }), call.origin));
    }
  }

  /** Fails every pending call at once with (a copy of) `err`, keeping its code. */
  failAllWith(err: HeartlineError): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const call of calls) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      const copy = new HeartlineError(err.code, `${call.label}: ${err.message}`, { cause: err, details: err.details, remote: err.remote });
      call.reject(withOrigin(copy, call.origin));
    }
  }
}

/** Appends the caller's stack (captured when the call was made) to a late failure. */
export function withOrigin(err: HeartlineError, origin: Error | undefined): HeartlineError {
  if (origin?.stack !== undefined) {
    const callerFrames = origin.stack.slice(origin.stack.indexOf('\n') + 1);
    err.stack = `${err.name} [${err.code}]: ${err.message}\n${callerFrames}`;
  }
  return err;
}
