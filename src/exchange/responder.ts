import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { encodeBody } from '../protocol/codec.js';
import { HEADER_SIZE } from '../protocol/constants.js';
import { errorBody, MAX_CAUSE_DEPTH, type ErrorCause } from '../protocol/messages.js';
import { checkValue, OMIT_UNDEFINED } from '../protocol/value-check.js';

/** The status and body of one response frame. */
export interface EncodedResponse {
  status: number;
  body: Buffer;
}

/** An error response with `code`. */
export function errorResponse(code: ErrorCode, message: string): EncodedResponse {
  return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message)) };
}

const EMPTY = Buffer.alloc(0);

/**
 * The response for a handler's return value: the encoded value (undefined as
 * an empty body, which carries no value: protocol.md 4.2), or
 * SERIALIZATION_ERROR when value-check.ts refuses it, or PAYLOAD_TOO_LARGE
 * when it cannot be sent to a peer that accepts frames of at most
 * `peerMaxFrameSize` bytes.
 */
export function valueResponse(value: unknown, peerMaxFrameSize: number): EncodedResponse {
  const encoded = encodeValue(value, peerMaxFrameSize);
  return encoded instanceof HeartlineError ? errorResponse(encoded.code, encoded.message) : encoded;
}

/**
 * `valueResponse`, with the failure as a HeartlineError (SERIALIZATION_ERROR
 * or PAYLOAD_TOO_LARGE) rather than its response: a provider counts such a
 * call as failed with that code, as its consumer hears it. Never throws.
 */
export function encodeValue(value: unknown, peerMaxFrameSize: number): EncodedResponse | HeartlineError {
  if (value === undefined) return { status: 0, body: EMPTY };
  let body: Buffer;
  try {
    const check = checkValue(value, 'result');
    if (typeof check === 'string') return new HeartlineError('SERIALIZATION_ERROR', check);
    body = encodeBody(value, check === OMIT_UNDEFINED);
  } catch (err) {
    // A getter or proxy in the result threw.
    return new HeartlineError('SERIALIZATION_ERROR', `result could not be encoded: ${(err as Error).message}`);
  }
  if (HEADER_SIZE + body.length > peerMaxFrameSize) {
    return new HeartlineError('PAYLOAD_TOO_LARGE', `response of ${HEADER_SIZE + body.length} bytes is over the peer's limit of ${peerMaxFrameSize} bytes`);
  }
  return { status: 0, body };
}

/**
 * The code a failure is answered with. A HeartlineError that came from a
 * downstream Heartline call (it has `call`) is always HANDLER_ERROR: this
 * handler ran. One the handler threw itself keeps its code when that code may
 * travel on the wire and is not retry-safe (retry-safe means "did not run",
 * which is false once the handler ran); with `handlerRan` false (an
 * interceptor or the limits refused the call before the handler) an on-wire
 * code is kept even when retry-safe. Anything else is HANDLER_ERROR. Never
 * throws, whatever the error's getters do.
 */
export function failureCode(error: unknown, handlerRan = true): ErrorCode {
  if (!(error instanceof HeartlineError)) return 'HANDLER_ERROR';
  try {
    if (error.call !== undefined) return 'HANDLER_ERROR';
    const code = error.code;
    // User code may hand over anything: a getter that throws, a code that is not one (`as ErrorCode` in a test, plain JS).
    if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) return 'HANDLER_ERROR';
    const info = ERROR_CODES[code];
    return info.onWire && (!info.retrySafe || !handlerRan) ? code : 'HANDLER_ERROR';
  } catch {
    return 'HANDLER_ERROR';
  }
}

/** The message of whatever a handler threw, read defensively: getters and `toString` may throw too. */
export function failureMessage(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return 'the handler failed with an unreadable error';
  }
}

/**
 * The `cause` map for a HeartlineError answered as another code: its code,
 * message, `call`, `details` (left out when value-check.ts refuses them) and
 * its own HeartlineError cause, `MAX_CAUSE_DEPTH` levels at most. `omit` is
 * set when some details need undefined left out. May throw what a getter throws.
 *
 * The cause at level `depth` is a map `depth + 1` levels down in the body,
 * and its details one more: they are checked against the nesting left there
 * (checkValue's `level`), not as if they were a whole value, so that no
 * details at any level takes the body past the receiver's MAX_DEPTH (which
 * would make it close the connection); details too deep are left out.
 */
function causeOf(err: HeartlineError, depth: number, omit: { undefinedValues: boolean }): ErrorCause {
  const map: ErrorCause = { code: err.code, message: String(err.message) };
  if (err.call !== undefined) map.call = String(err.call);
  if (err.details !== undefined) {
    // Body map (1), causes 1..depth (2..depth + 1), details (depth + 2): value level j sits at depth + 1 + j,
    // and checkValue allows level j - 1 + `depth` up to MAX_VALUE_DEPTH (= MAX_DEPTH - 2): depth + 1 + j <= MAX_DEPTH.
    const check = checkValue(err.details, 'details', depth);
    if (typeof check !== 'string') {
      map.details = err.details;
      if (check === OMIT_UNDEFINED) omit.undefinedValues = true;
    }
  }
  if (depth < MAX_CAUSE_DEPTH && err.cause instanceof HeartlineError) map.cause = causeOf(err.cause, depth + 1, omit);
  return map;
}

/**
 * The response for a failed call (protocol.md 4.2, "errors across hops"):
 * the code is `failureCode(error, handlerRan)`, the message the error's.
 * - A HeartlineError answered as HANDLER_ERROR (a downstream failure, or a
 *   retry-safe or local code) carries its details and, in `cause`, its code,
 *   message, `call`, details and cause chain: the caller sees what failed
 *   downstream, and never a retry-safe code for a handler that ran.
 * - A HeartlineError that keeps its code carries its details.
 * - Any other error: HANDLER_ERROR with the error's name, its `details` (or
 *   its string `code` as `{ code }`).
 * A HeartlineError's `name` goes only when it is its own (a subclass that
 * names itself): the default `HeartlineError` tells the caller nothing.
 * The stack goes only when `exposeStack`. Details value-check.ts refuses are
 * left out (the message says so). Never throws, whatever the error's getters do.
 */
export function failureResponse(error: unknown, exposeStack: boolean, handlerRan = true): EncodedResponse {
  let code: ErrorCode = 'HANDLER_ERROR';
  try {
    code = failureCode(error, handlerRan);
    const err = error instanceof Error ? (error as Error & { details?: unknown; code?: unknown }) : undefined;
    const message = failureMessage(error);
    // A HeartlineError's code (and its cause) says what it is: its default name would only read as
    // `remoteName: 'HeartlineError'` on the caller's side; a subclass's own name is the handler's and goes.
    const name = err === undefined ? typeof error : error instanceof HeartlineError && err.name === 'HeartlineError' ? undefined : String(err.name);
    let details: unknown;
    let cause: ErrorCause | undefined;
    const omit = { undefinedValues: false };
    if (error instanceof HeartlineError) {
      details = error.details;
      if (code !== error.code || error.call !== undefined) cause = causeOf(error, 1, omit);
    } else if (err !== undefined) details = err.details !== undefined ? err.details : typeof err.code === 'string' ? { code: err.code } : undefined;
    const stack = exposeStack ? err?.stack : undefined;
    // `details` is a value like any other (value-check.ts): one the receiver would refuse must
    // not go out, or the whole connection would close; the error still does, without it.
    const check = details === undefined ? undefined : checkValue(details, 'details');
    if (typeof check === 'string') return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, `${message} (details not sent: ${check})`, name, undefined, stack, cause), omit.undefinedValues) };
    try {
      return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message, name, details, stack, cause), check === OMIT_UNDEFINED || omit.undefinedValues) };
    } catch {
      return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message, name)) };
    }
  } catch {
    return errorResponse(code, 'the handler failed with an unreadable error');
  }
}

/** A response, or a function that builds it once the peer's frame limit is known (values are encoded last). */
export type Outcome = EncodedResponse | ((peerMaxFrameSize: number) => EncodedResponse);

/** What a handler threw or rejected with, when it failed. */
export interface HandlerFailure {
  error: unknown;
}

/** Hears a handler's outcome: `failed` false with its value, or true with what it threw or rejected with. */
export type HandlerSettle = (failed: boolean, result: unknown) => void;

/**
 * Calls a handler (a provider method or a consumer callback) and reports its
 * outcome exactly once, whether it returns a value, returns a promise or any
 * thenable, throws or rejects: a thenable whose `then` throws (or is a getter
 * that throws) counts as a failure, and one that settles twice, or throws
 * after settling, is heard once. Never throws.
 */
export function callHandler(fn: Function, thisArg: unknown, args: unknown[], settle: HandlerSettle): void {
  startHandler(fn, thisArg, args, new CallbackRun(settle));
}

/** `callHandler` for a caller that is a `HandlerRun` itself: one object per call, no closure to hear the outcome. */
export function startHandler(fn: Function, thisArg: unknown, args: unknown[], run: HandlerRun): void {
  let result: unknown;
  let then: unknown;
  try {
    result = fn.apply(thisArg, args);
    // Read `then` once, inside the try: it may be a getter that throws.
    then = (typeof result === 'object' && result !== null) || typeof result === 'function' ? (result as { then?: unknown }).then : undefined;
  } catch (err) {
    run.fail(err);
    return;
  }
  if (typeof then !== 'function') {
    run.succeed(result);
    return;
  }
  try {
    // Unnamed arrows: a named per-call closure costs a defineProperty under esbuild's keepNames (tsx).
    then.call(result, (value: unknown) => run.succeed(value), (err: unknown) => run.fail(err));
  } catch (err) {
    run.fail(err); // ignored if the thenable settled before throwing
  }
}

/**
 * `callHandler`, its outcome encoded: the value (encoded once the peer's frame
 * limit is known) or `failureResponse`; `failure` is given when the handler
 * failed. Never throws.
 */
export function runHandler(
  fn: Function,
  thisArg: unknown,
  args: unknown[],
  exposeStack: boolean,
  done: (outcome: Outcome, failure?: HandlerFailure) => void,
): void {
  callHandler(fn, thisArg, args, (failed, result) => {
    if (failed) done(failureResponse(result, exposeStack), { error: result });
    else done((peerMax: number) => valueResponse(result, peerMax));
  });
}

/** One handler run (`startHandler`): reports the first outcome to `settled` and ignores any later one. */
export abstract class HandlerRun {
  private done = false;

  /** Hears the handler's outcome, once: `failed` false with its value, or true with what it threw or rejected with. */
  protected abstract settled(failed: boolean, result: unknown): void;

  succeed(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.settled(false, value);
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.settled(true, error);
  }
}

/** A HandlerRun that reports to a function (`callHandler`). */
class CallbackRun extends HandlerRun {
  constructor(private readonly settle: HandlerSettle) {
    super();
  }

  protected settled(failed: boolean, result: unknown): void {
    this.settle(failed, result);
  }
}
