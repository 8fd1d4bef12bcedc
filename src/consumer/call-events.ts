import { channels } from '../context/channels.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { now } from '../transport/clock.js';
import type { ClientInvocation } from './invocation.js';

/**
 * The top of one logical consumer call, on its slow path: when a client call
 * channel has subscribers, or the call was made inside a handler (its signal
 * links must be undone when it settles). Publishes start, then end or error,
 * once per logical call, all with the same `call` object (the invocation as
 * made, before interceptors change it) and the `client` that made it.
 */

/** True when a subscriber listens to any client call channel (three property reads). */
export function callObserved(): boolean {
  return channels.clientCallStart.hasSubscribers || channels.clientCallEnd.hasSubscribers || channels.clientCallError.hasSubscribers;
}

export function observeCall(inv: ClientInvocation, client: object, run: (inv: ClientInvocation) => Promise<unknown>): Promise<unknown> {
  const started = now();
  if (channels.clientCallStart.hasSubscribers) channels.clientCallStart.publish({ call: inv, client });
  let promise: Promise<unknown>;
  try {
    promise = run(inv);
  } catch (err) {
    promise = Promise.reject(err);
  }
  return promise.then(
    (result) => {
      inv.links?.unlink();
      if (channels.clientCallEnd.hasSubscribers) channels.clientCallEnd.publish({ call: inv, client, result, duration: now() - started });
      return result;
    },
    (error: unknown) => {
      inv.links?.unlink();
      markCall(error, inv.target.label);
      if (channels.clientCallError.hasSubscribers) channels.clientCallError.publish({ call: inv, client, error, duration: now() - started });
      throw error;
    },
  );
}

/** Sets `err.call` (`service#method`) on a HeartlineError a call rejects with, unless a deeper call already named itself there; returns `err`. */
export function markCall<E>(err: E, label: string): E {
  if (err instanceof HeartlineError && err.call === undefined) err.call = label;
  return err;
}
