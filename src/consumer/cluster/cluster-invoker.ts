import { HeartlineError } from '../../errors/heartline-error.js';
import { withOrigin } from '../../exchange/pending-calls.js';
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
  invoke(inv: ClientInvocation): Promise<unknown>;
}

/**
 * `inv` checked and encoded for its attempts, or why it must not be sent:
 * its signal fired (CANCELLED), its deadline passed (DEADLINE_EXCEEDED), its
 * arguments cannot be sent (SERIALIZATION_ERROR). Nothing is written then, and
 * no connection opens.
 */
export function prepareCall(inv: ClientInvocation): PreparedCall | HeartlineError {
  const refusal = inv.refusal();
  if (refusal !== undefined) return withOrigin(refusal, inv.origin);
  const prepared = PreparedCall.prepare(inv);
  return prepared instanceof HeartlineError ? withOrigin(prepared, inv.origin) : prepared;
}

/** The first attempt once a registry's first listing came (or the deadline passed); `onFailure` decides what a failure means. */
export async function firstAttemptAfterListing(
  picker: ProviderPicker,
  listing: Promise<void>,
  prepared: PreparedCall,
  onFailure: (err: unknown, first: Endpoint) => Promise<unknown>,
): Promise<unknown> {
  const inv = prepared.invocation;
  const first = await picker.afterListing(listing, inv);
  if (first === undefined) throw picker.unavailable(inv);
  try {
    return await first.invoke(prepared, inv.deadline);
  } catch (err) {
    return onFailure(err, first);
  }
}
