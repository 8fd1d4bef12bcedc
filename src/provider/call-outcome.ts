import { HeartlineError } from '../errors/heartline-error.js';
import type { ErrorCode } from '../errors/codes.js';
import { errorResponse, failureCode, failureResponse, type EncodedResponse } from '../exchange/responder.js';
import type { IncomingCall } from './server-call.js';

/**
 * The encode stage of a failed call: the response frame's status and body (a
 * value is encoded by `encodeValue`, exchange/responder.ts, before the call is
 * counted, so that one that cannot be sent counts as failed). A
 * refusal before the handler ran (not found, limits, spent budget, or an
 * interceptor's own HeartlineError with an on-wire code) keeps its code,
 * even a retry-safe one: the handler did not run. Any failure from the
 * handler on follows the hop rule of `failureResponse` (protocol.md 4.2).
 */
export function encodeFailure(call: IncomingCall, result: unknown, exposeStack: boolean): EncodedResponse {
  if (isPlainRefusal(call, result)) return errorResponse(result.code, result.message);
  return failureResponse(result, exposeStack, call.handlerStarted);
}

/** A HeartlineError before the handler, with nothing but a code and a message: answered as the stages' own refusals are. Never throws. */
function isPlainRefusal(call: IncomingCall, error: unknown): error is HeartlineError {
  if (call.handlerStarted || !(error instanceof HeartlineError)) return false;
  try {
    return error.call === undefined && error.details === undefined && error.cause === undefined && failureCode(error, false) === error.code;
  } catch {
    return false; // a getter threw: failureResponse copes with it
  }
}

/**
 * True when a failure is a refusal before the handler that keeps its code
 * (not found, limits, an interceptor's deliberate HeartlineError): not the
 * handler's fault, so not logged as one. Never throws, whatever the error's
 * getters do (an interceptor may throw anything).
 */
export function keepsRefusalCode(call: IncomingCall, error: unknown): boolean {
  if (call.handlerStarted || !(error instanceof HeartlineError)) return false;
  try {
    return failureCode(error, false) === error.code;
  } catch {
    return false;
  }
}

/**
 * The code a failed call settled with, as its caller hears it (or would:
 * one-way calls): the abort reason's for a call aborted (cancelled, deadline,
 * connection closed, grace period ended), else the code `encodeOutcome`
 * answers. Never throws.
 */
export function outcomeCode(call: IncomingCall, error: unknown): ErrorCode {
  if (error !== undefined && error === call.abortReason) return (error as HeartlineError).code;
  return failureCode(error, call.handlerStarted);
}
