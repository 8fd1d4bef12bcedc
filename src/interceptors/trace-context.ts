import { randomBytes } from 'node:crypto';
import type { ClientCall } from '../consumer/client-interceptor.js';
import { checkBoolean, invalidConfig } from '../errors/invalid-config.js';
import { currentCall } from '../provider/server-call.js';
import type { ServerCall } from '../provider/server-interceptor.js';
import { dropAttachment, isClientCall } from './served-call.js';
import { childOf, newTrace, parseTraceparent, type RandomBytes } from './traceparent.js';

/** The attachment that carries the W3C `traceparent` value. */
export const TRACEPARENT = 'traceparent';
/** The attachment that carries the W3C `tracestate` value (vendor data, passed on as it is). */
export const TRACESTATE = 'tracestate';

/**
 * An interceptor that works on both sides: assignable to `ClientInterceptor`
 * and to `ServerInterceptor`. On the consumer side it may pass a changed call
 * to `next`; on the provider side it calls `next()` with nothing.
 */
export type EitherSideInterceptor = (call: ClientCall | ServerCall, next: (call?: ClientCall) => Promise<unknown>) => Promise<unknown>;

/** Options of `traceContext`. */
export interface TraceContextOptions {
  /**
   * The sampled flag of a trace this interceptor starts (a call made outside
   * any traced served call): `true` writes flags `01`, `false` (default)
   * `00`, since nothing here records the trace. A continued trace keeps the
   * flags it arrived with.
   */
  sampled?: boolean;
  /**
   * Source of the random ids, `n => Uint8Array` of `n` bytes. Default:
   * `crypto.randomBytes`. For tests.
   */
  randomBytes?: RandomBytes;
}

/**
 * W3C Trace Context propagation (https://www.w3.org/TR/trace-context/) in the
 * attachments `traceparent` and `tracestate`, for both sides:
 * `client.use(traceContext())` and `server.use(traceContext())`.
 *
 * On a consumer call:
 * - a valid `traceparent` the caller set (in the reference's attachments, in
 *   `withOptions`, or by an interceptor before this one) is left alone, with
 *   its `tracestate`;
 * - otherwise, inside a served call whose `traceparent` is valid, the call
 *   continues that trace: the same trace-id and flags, a new random
 *   parent-id, and the served call's `tracestate` passed on;
 * - otherwise it starts a trace: a random 16-byte trace-id and 8-byte
 *   parent-id (never all zeros), flags per `sampled`, and no `tracestate`
 *   (an invalid `traceparent` the caller set is replaced this way).
 *
 * On a served call: an invalid `traceparent` (not version 00 format with
 * lowercase hex, all zeros, version `ff`, ...: see `parseTraceparent`) is
 * removed before the handler runs, and `tracestate` with it, as is a
 * `tracestate` without a `traceparent`: handlers and the calls they make
 * never see either unless the trace they belong to is valid.
 */
export function traceContext(options: TraceContextOptions = {}): EitherSideInterceptor {
  if (typeof options !== 'object' || options === null) throw invalidConfig('traceContext options', 'an object', options);
  const sampled = checkBoolean('traceContext sampled', options.sampled) ?? false;
  const random = options.randomBytes ?? randomBytes;
  if (typeof random !== 'function') throw invalidConfig('traceContext randomBytes', 'a function', random);

  return (call, next) => {
    if (!isClientCall(call)) {
      cleanServed(call);
      return next();
    }
    if (parseTraceparent(call.attachments[TRACEPARENT]) !== undefined) return next();
    const attachments = { ...call.attachments };
    const served = currentCall();
    const incoming = served === undefined ? undefined : parseTraceparent(served.attachments[TRACEPARENT]);
    if (incoming !== undefined) {
      attachments[TRACEPARENT] = childOf(incoming, random);
      const state = served!.attachments[TRACESTATE];
      if (typeof state === 'string') attachments[TRACESTATE] = state;
      else delete attachments[TRACESTATE];
    } else {
      attachments[TRACEPARENT] = newTrace(random, sampled);
      delete attachments[TRACESTATE];
    }
    return next(call.with({ attachments }));
  };
}

/** Removes an invalid `traceparent` from a served call, and a `tracestate` that no valid `traceparent` comes with. */
function cleanServed(call: ServerCall): void {
  const attachments = call.attachments;
  if (Object.hasOwn(attachments, TRACEPARENT) && parseTraceparent(attachments[TRACEPARENT]) === undefined) dropAttachment(call, TRACEPARENT);
  if (Object.hasOwn(attachments, TRACESTATE) && !Object.hasOwn(attachments, TRACEPARENT)) dropAttachment(call, TRACESTATE);
}
