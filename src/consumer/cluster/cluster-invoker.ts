import { HeartlineError } from '../../errors/heartline-error.js';
import type { CallSink } from '../../exchange/connection-call.js';
import { withOrigin } from '../../exchange/pending-calls.js';
import { markCall } from '../call-events.js';
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
 * `onFailure`, or is the call's failure when there is none. Every
 * HeartlineError it rejects with names the call (`err.call`), unless a
 * deeper call named itself there.
 */
export function startCall(picker: ProviderPicker, inv: ClientInvocation, at: number, firstDeadline: (inv: ClientInvocation, at: number) => number, onFailure: FirstFailure | undefined): Promise<unknown> {
  const label = inv.target.label;
  const prepared = prepareCall(inv, at);
  if (prepared instanceof HeartlineError) return Promise.reject(markCall(prepared, label));
  const first = picker.select(inv, undefined);
  if (first === undefined) {
    const listing = picker.loading();
    if (listing === undefined) return Promise.reject(markCall(picker.unavailable(inv), label));
    return afterListing(picker, listing, prepared, onFailure).catch((err: unknown) => {
      throw markCall(err, label);
    });
  }
  // `at` is still now: nothing asynchronous ran since it was read (the pending table relies on it being current).
  const deadline = firstDeadline(inv, at);
  const promise = new Promise(captureSettlers);
  const sink = new FirstAttempt(settleValue!, settleError!, onFailure, first, prepared);
  settleValue = settleError = undefined;
  try {
    first.dispatch(prepared, deadline, at, sink);
  } catch (err) {
    sink.reject(err as HeartlineError); // not expected: dispatch settles every failure through the sink
  }
  return promise;
}

/** The settlers of the promise just made (`captureSettlers`): one executor for every call, no closure per call. */
let settleValue: ((value: unknown) => void) | undefined;
let settleError: ((err: unknown) => void) | undefined;
function captureSettlers(resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
  settleValue = resolve;
  settleError = reject;
}

/**
 * Where the first attempt's outcome goes: the call's one promise, settled
 * by the connection itself (no promise per layer), or, on failure, the
 * cluster mode's `onFailure` (a retry) when it has one. Settles once.
 */
class FirstAttempt implements CallSink {
  private settled = false;

  constructor(
    private readonly fulfil: (value: unknown) => void,
    private readonly fail: (err: unknown) => void,
    private readonly onFailure: FirstFailure | undefined,
    private readonly first: Endpoint,
    private readonly prepared: PreparedCall,
  ) {}

  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.fulfil(value);
  }

  reject(err: HeartlineError): void {
    if (this.settled) return;
    this.settled = true;
    if (this.onFailure === undefined) {
      this.failMarked(err);
      return;
    }
    let retried: Promise<unknown>;
    try {
      retried = this.onFailure(err, this.first, this.prepared);
    } catch (e) {
      this.failMarked(e);
      return;
    }
    retried.then(this.fulfil, (e: unknown) => this.failMarked(e));
  }

  /** Every failure the cluster stage rejects with names the call (`err.call`) unless a deeper call did. */
  private failMarked(err: unknown): void {
    this.fail(markCall(err, this.prepared.invocation.target.label));
  }
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
