import { HeartlineError } from '../errors/heartline-error.js';
import { errorResponse, failureCode, failureResponse, valueResponse, type EncodedResponse } from '../exchange/responder.js';
import type { IncomingCall } from './server-call.js';

/**
 * The encode stage: the response frame's status and body for a call's
 * outcome. A value is encoded for the peer's frame limit (valueResponse). A
 * refusal before the handler ran (not found, limits, spent budget, or an
 * interceptor's own HeartlineError with an on-wire code) keeps its code,
 * even a retry-safe one: the handler did not run. Any failure from the
 * handler on follows the hop rule of `failureResponse` (protocol.md 4.2).
 */
export function encodeOutcome(call: IncomingCall, failed: boolean, result: unknown, peerMaxFrameSize: number, exposeStack: boolean): EncodedResponse {
  if (!failed) return valueResponse(result, peerMaxFrameSize);
  if (isPlainRefusal(call, result)) return errorResponse(result.code, result.message);
  return failureResponse(result, exposeStack, call.handlerStarted);
}

/** A HeartlineError before the handler, with nothing but a code and a message: answered as the stages' own refusals are. */
function isPlainRefusal(call: IncomingCall, error: unknown): error is HeartlineError {
  return (
    !call.handlerStarted &&
    error instanceof HeartlineError &&
    error.call === undefined &&
    error.details === undefined &&
    error.cause === undefined &&
    failureCode(error, false) === error.code
  );
}
