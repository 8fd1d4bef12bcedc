import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { encodeBody } from '../protocol/codec.js';
import { HEADER_SIZE } from '../protocol/constants.js';
import { errorBody } from '../protocol/messages.js';

/** The status and body of one response frame. */
export interface EncodedResponse {
  status: number;
  body: Buffer;
}

/** An error response with `code`. */
export function errorResponse(code: ErrorCode, message: string): EncodedResponse {
  return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message)) };
}

/**
 * The response for a handler's return value: the encoded value, or
 * SERIALIZATION_ERROR / PAYLOAD_TOO_LARGE when it cannot be sent to a peer that
 * accepts frames of at most `peerMaxFrameSize` bytes.
 */
export function valueResponse(value: unknown, peerMaxFrameSize: number): EncodedResponse {
  let body: Buffer;
  try {
    body = encodeBody(value);
  } catch (err) {
    return errorResponse('SERIALIZATION_ERROR', `result could not be encoded: ${(err as Error).message}`);
  }
  if (HEADER_SIZE + body.length > peerMaxFrameSize) {
    return errorResponse('PAYLOAD_TOO_LARGE', `response of ${HEADER_SIZE + body.length} bytes is over the peer's limit of ${peerMaxFrameSize} bytes`);
  }
  return { status: 0, body };
}

/**
 * The response for a handler that threw or rejected: HANDLER_ERROR with the
 * error's name and message, its `details` (or its string `code` as
 * `{ code }`), and its stack only when `exposeStack`. A HeartlineError thrown
 * by a handler keeps its own code when that code may travel on the wire.
 */
export function failureResponse(error: unknown, exposeStack: boolean): EncodedResponse {
  const err = error instanceof Error ? (error as Error & { details?: unknown; code?: unknown }) : undefined;
  const message = err !== undefined ? err.message : String(error);
  const name = err !== undefined ? err.name : typeof error;
  let code: ErrorCode = 'HANDLER_ERROR';
  let details: unknown;
  if (error instanceof HeartlineError) {
    if (ERROR_CODES[error.code].onWire && !ERROR_CODES[error.code].retrySafe) code = error.code;
    details = error.details;
  } else if (err !== undefined) {
    details = err.details !== undefined ? err.details : typeof err.code === 'string' ? { code: err.code } : undefined;
  }
  const stack = exposeStack ? err?.stack : undefined;
  try {
    return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message, name, details, stack)) };
  } catch {
    return { status: ERROR_CODES[code].status, body: encodeBody(errorBody(code, message, name)) };
  }
}

/** A response, or a function that builds it once the peer's frame limit is known (values are encoded last). */
export type Outcome = EncodedResponse | ((peerMaxFrameSize: number) => EncodedResponse);

/**
 * Runs a handler (a provider method or a consumer callback) and reports its
 * outcome exactly once, whether it returns a value, returns a promise, throws
 * or rejects. Never throws.
 */
export function runHandler(fn: Function, thisArg: unknown, args: unknown[], exposeStack: boolean, done: (outcome: Outcome) => void): void {
  let result: unknown;
  try {
    result = fn.apply(thisArg, args);
  } catch (err) {
    done(failureResponse(err, exposeStack));
    return;
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
    (result as PromiseLike<unknown>).then(
      (value) => done((peerMax: number) => valueResponse(value, peerMax)),
      (err: unknown) => done(failureResponse(err, exposeStack)),
    );
  } else {
    done((peerMax: number) => valueResponse(result, peerMax));
  }
}
