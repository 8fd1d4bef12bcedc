import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { encodeBody } from '../protocol/codec.js';
import { HEADER_SIZE } from '../protocol/constants.js';
import { errorBody } from '../protocol/messages.js';
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
  if (value === undefined) return { status: 0, body: EMPTY };
  let body: Buffer;
  try {
    const check = checkValue(value, 'result');
    if (typeof check === 'string') return errorResponse('SERIALIZATION_ERROR', check);
    body = encodeBody(value, check === OMIT_UNDEFINED);
  } catch (err) {
    // A getter or proxy in the result threw.
    return errorResponse('SERIALIZATION_ERROR', `result could not be encoded: ${(err as Error).message}`);
  }
  if (HEADER_SIZE + body.length > peerMaxFrameSize) {
    return errorResponse('PAYLOAD_TOO_LARGE', `response of ${HEADER_SIZE + body.length} bytes is over the peer's limit of ${peerMaxFrameSize} bytes`);
  }
  return { status: 0, body };
}

/** The code a handler's failure is answered with: HANDLER_ERROR, or a HeartlineError's own code when that may travel on the wire. */
export function failureCode(error: unknown): ErrorCode {
  if (error instanceof HeartlineError && ERROR_CODES[error.code].onWire && !ERROR_CODES[error.code].retrySafe) return error.code;
  return 'HANDLER_ERROR';
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
 * The response for a handler that threw or rejected: HANDLER_ERROR with the
 * error's name and message, its `details` (or its string `code` as
 * `{ code }`), and its stack only when `exposeStack`. A HeartlineError thrown
 * by a handler keeps its own code when that code may travel on the wire.
 * Never throws, whatever the error's getters do.
 */
export function failureResponse(error: unknown, exposeStack: boolean): EncodedResponse {
  let code: ErrorCode = 'HANDLER_ERROR';
  try {
    code = failureCode(error);
    const err = error instanceof Error ? (error as Error & { details?: unknown; code?: unknown }) : undefined;
    const message = failureMessage(error);
    const name = err !== undefined ? String(err.name) : typeof error;
    let details: unknown;
    if (error instanceof HeartlineError) details = error.details;
    else if (err !== undefined) details = err.details !== undefined ? err.details : typeof err.code === 'string' ? { code: err.code } : undefined;
    const stack = exposeStack ? err?.stack : undefined;
    // `details` is a value like any other (value-check.ts): one the receiver would refuse must
    // not go out, or the whole connection would close; the error still does, without it.
    const check = details === undefined ? undefined : checkValue(details, 'details');
    if (typeof check === 'string') return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, `${message} (details not sent: ${check})`, name, undefined, stack)) };
    try {
      return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message, name, details, stack), check === OMIT_UNDEFINED) };
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

/**
 * Runs a handler (a provider method or a consumer callback) and reports its
 * outcome exactly once, whether it returns a value, returns a promise or any
 * thenable, throws or rejects: a thenable whose `then` throws (or is a getter
 * that throws) counts as a failure, and one that settles twice, or throws
 * after settling, is heard once. `failure` is given when the handler failed.
 * Never throws.
 */
export function runHandler(
  fn: Function,
  thisArg: unknown,
  args: unknown[],
  exposeStack: boolean,
  done: (outcome: Outcome, failure?: HandlerFailure) => void,
): void {
  const run = new HandlerRun(done, exposeStack);
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

/** One handler run: reports the first outcome and ignores any later one. */
class HandlerRun {
  private settled = false;
  constructor(
    private readonly done: (outcome: Outcome, failure?: HandlerFailure) => void,
    private readonly exposeStack: boolean,
  ) {}

  succeed(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.done((peerMax: number) => valueResponse(value, peerMax));
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.done(failureResponse(error, this.exposeStack), { error });
  }
}
