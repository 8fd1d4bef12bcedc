import type { CallInfo } from '../context/call-info.js';
import type { Interceptor } from '../context/interceptor-chain.js';
import type { Attachments } from '../protocol/messages.js';

/**
 * One consumer call as interceptors see it: immutable. An interceptor that
 * wants to change it passes `call.with(changes)` to `next`.
 */
export interface ClientCall extends CallInfo {
  /** The call's timeout in ms, covering every attempt; 0 for none. */
  readonly timeout: number;
  /** Aborts the call (CANCELLED); inside a handler, also the served call's signal. */
  readonly signal: AbortSignal | undefined;
  /** The method is one-way (resolves once written, no response). */
  readonly oneWay: boolean;
  /** The method may safely run twice (failover retries it after a timeout). */
  readonly idempotent: boolean;
  /** A copy with `changes` applied. A new `timeout` counts from now, and never past an inherited deadline. */
  with(changes: ClientCallChanges): ClientCall;
}

/** What an interceptor may change in a call. */
export interface ClientCallChanges {
  args?: readonly unknown[];
  /** Replaces the attachments (spread `call.attachments` to keep them). */
  attachments?: Attachments;
  /** A new timeout in ms, from now; 0 for none (an inherited deadline still holds). */
  timeout?: number;
  signal?: AbortSignal | undefined;
}

/**
 * A consumer interceptor: `async (call, next) => { ...; const result = await next(); ...; return result; }`.
 * Client-wide ones (`client.use`) run first, then the reference's
 * (`interceptors` option), then the call goes to the cluster (failover) stage:
 * an interceptor sees one logical call, however many attempts it takes.
 */
export type ClientInterceptor = Interceptor<ClientCall>;

/** Options of one call (`withOptions(stub, options)`), checked once when the view is made (INVALID_CONFIG). */
export interface CallOptions {
  /**
   * Cancels the call: it rejects at once with CANCELLED (`cause`: the
   * signal's reason), is never written if it was not yet, and the provider is
   * told (a Cancel frame) if it was. Already aborted: nothing is sent and no
   * connection opens. The call's listener is removed when it settles. Default none.
   */
  signal?: AbortSignal;
  /**
   * Timeout of this call in ms, covering every attempt, instead of the
   * method's (default: the method's, else the reference's, else the client's
   * 3000); 0 for none. Never past an inherited deadline (inside a handler).
   */
  timeout?: number;
  /** Attachments merged over the reference's (string values). Default none. */
  attachments?: Attachments;
}
