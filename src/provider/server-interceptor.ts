import type { CallInfo } from '../context/call-info.js';

/**
 * One call a provider serves, as interceptors and handlers see it
 * (`currentCall()` inside a handler).
 */
export interface ServerCall extends CallInfo {
  /**
   * Fires when the caller cancels, the deadline passes, the consumer's
   * connection closes, or the server's grace period ends. Made on first read.
   */
  readonly signal: AbortSignal;
  /** The consumer's address, `host:port`. */
  readonly peer: string;
  /** The id of the consumer's connection (as in `server.connections()`). */
  readonly connectionId: number;
  /** The request asked for no response. */
  readonly oneWay: boolean;
  /**
   * Who the caller is: the principal the server's `authenticate` gave its
   * connection, undefined without one. Writable: an interceptor that checks
   * per-call credentials (a user's token in the attachments) may set it for
   * the interceptors and handler after it.
   */
  principal: unknown;
}

/**
 * A provider interceptor: `async (call, next) => { ...; return await next(); }`.
 *
 * Order: the `authorize` hooks (the server's, then the service's) come
 * before every interceptor; a call they refuse (PERMISSION_DENIED) reaches
 * none. Then server-wide interceptors (`server.use`, in the order added) run first, then
 * the service's (`interceptors` option of `register`/`@Provider`), then the
 * limits (the connection's callback cap, the service's and method's
 * `executes`), then the handler. Interceptors come before the limits so that
 * a call an interceptor refuses (an authentication check) never holds an
 * `executes` slot, and so that an observing interceptor (metrics, logs) also
 * sees the calls the limits refuse with LIMIT_EXCEEDED. They run inside the
 * call's scope: `currentCall()` is `call`, and consumer calls they make
 * inherit its deadline and signal.
 *
 * - Returning without calling `next()` short-circuits: the value is the result.
 * - Throwing before the handler ran: a HeartlineError with an on-wire code
 *   is answered with that code, even a retry-safe one (the handler did not
 *   run); anything else is HANDLER_ERROR (and logged).
 * - Throwing once the handler ran follows the rule for handler errors: an
 *   on-wire, non-retry-safe code is kept; anything else is HANDLER_ERROR,
 *   a HeartlineError's code going into the error's `cause`.
 * - An interceptor that never settles is abandoned when the call's signal
 *   would fire (Cancel frame, deadline, connection closed, grace period
 *   ended): the call then leaves its connection's `maxConcurrentCalls` count
 *   and its response is not sent. Without a deadline that is when the
 *   connection closes.
 * - Calling `next()` twice runs the rest of the chain (and the handler) twice.
 *
 * With no interceptor at all, a call pays nothing for this feature.
 */
export type ServerInterceptor = (call: ServerCall, next: () => Promise<unknown>) => Promise<unknown>;

