import { HeartlineError } from '../../errors/heartline-error.js';
import { withOrigin } from '../../exchange/pending-calls.js';
import { now } from '../../transport/clock.js';
import { PreparedCall } from '../attempt.js';
import type { Endpoint } from '../endpoint.js';
import type { ClientInvocation } from '../invocation.js';
import type { ProviderPicker } from '../provider-picker.js';

/** How a reference handles a failed attempt. */
export type ClusterMode = 'failover' | 'failfast' | 'failsafe';

/**
 * The cluster stage: turns one logical call (after the interceptors) into
 * attempts on providers, and decides what a failed attempt means for the
 * call. One implementation per cluster mode, each in its own file.
 */
export interface ClusterInvoker {
  /** `at`: now (clock ms), when the caller has just read the clock; else read here. */
  invoke(inv: ClientInvocation, at?: number): Promise<unknown>;
}

/**
 * `inv` checked and encoded for its attempts, or why it must not be sent:
 * its signal fired (CANCELLED), its deadline passed (DEADLINE_EXCEEDED), its
 * arguments cannot be sent (SERIALIZATION_ERROR). Nothing is written then, and
 * no connection opens.
 */
export function prepareCall(inv: ClientInvocation, at: number): PreparedCall | HeartlineError {
  const refusal = inv.refusal(at);
  if (refusal !== undefined) return withOrigin(refusal, inv.origin);
  const prepared = PreparedCall.prepare(inv);
  return prepared instanceof HeartlineError ? withOrigin(prepared, inv.origin) : prepared;
}

/** What a cluster mode does with a failed first attempt: settle the call (retry, or rethrow). */
export type FirstFailure = (err: unknown, first: Endpoint, prepared: PreparedCall) => Promise<unknown>;

/**
 * The start every cluster mode shares: `inv` prepared (prepareCall), then its
 * first attempt on the provider the picker chooses, with `firstDeadline(inv)`;
 * with no provider listed yet, once a registry's first listing came (or the
 * deadline passed), with the call's deadline. A failed first attempt goes to
 * `onFailure`, or is the call's failure when there is none.
 */
export function startCall(picker: ProviderPicker, inv: ClientInvocation, at: number, firstDeadline: (inv: ClientInvocation, at: number) => number, onFailure: FirstFailure | undefined): Promise<unknown> {
  const prepared = prepareCall(inv, at);
  if (prepared instanceof HeartlineError) return Promise.reject(prepared);
  const first = picker.select(inv, undefined);
  if (first === undefined) {
    const listing = picker.loading();
    if (listing === undefined) return Promise.reject(picker.unavailable(inv));
    return afterListing(picker, listing, prepared, onFailure);
  }
  // `at` is still now: nothing asynchronous ran since it was read (the pending table relies on it being current).
  const attempt = first.invoke(prepared, firstDeadline(inv, at), at);
  return onFailure === undefined ? attempt : attempt.catch((err: unknown) => onFailure(err, first, prepared));
}

async function afterListing(picker: ProviderPicker, listing: Promise<void>, prepared: PreparedCall, onFailure: FirstFailure | undefined): Promise<unknown> {
  const inv = prepared.invocation;
  const first = await picker.afterListing(listing, inv);
  if (first === undefined) throw picker.unavailable(inv);
  try {
    return await first.invoke(prepared, inv.deadline, now());
  } catch (err) {
    if (onFailure === undefined) throw err;
    return onFailure(err, first, prepared);
  }
}
