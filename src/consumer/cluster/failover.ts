import type { ErrorCode } from '../../errors/codes.js';
import { HeartlineError } from '../../errors/heartline-error.js';
import { now } from '../../transport/clock.js';
import type { Endpoint } from '../endpoint.js';
import type { ClientInvocation, MethodTarget } from '../invocation.js';
import type { PreparedCall } from '../attempt.js';
import type { ProviderPicker } from '../provider-picker.js';
import { startCall, type ClusterInvoker, type FirstFailure } from './cluster-invoker.js';

/** Failover starts another attempt only while at least this share of the call's timeout is left (the retry budget). */
export const MIN_RETRY_BUDGET = 0.05;

/** Codes failover retries only for idempotent methods: the call may have run. */
const RETRY_IF_IDEMPOTENT: readonly ErrorCode[] = ['TIMEOUT', 'CONNECTION_LOST_WRITTEN'];

/**
 * Up to `1 + retries` attempts, each on a provider not tried yet, but only
 * when the failed attempt certainly did not run (a retry-safe code) or the
 * method is idempotent. An idempotent call's time is shared out between the
 * attempts that can happen (one per available provider), so the caller never
 * waits past its deadline. No retry once the call's signal fired, nor with
 * less than the retry budget left.
 */
export class FailoverInvoker implements ClusterInvoker {
  /** Made once: no closure per call. */
  private readonly firstDeadlineOf = (inv: ClientInvocation, at: number): number => this.firstDeadline(inv, at);
  private readonly afterFirst: FirstFailure = (err, first, prepared) => this.recover(err, prepared, [first]);

  constructor(private readonly picker: ProviderPicker) {}

  invoke(inv: ClientInvocation, at: number = now()): Promise<unknown> {
    // With no retry allowed, a failed first attempt is the call's failure.
    return startCall(this.picker, inv, at, this.firstDeadlineOf, inv.target.attempts === 1 ? undefined : this.afterFirst);
  }

  /** An idempotent call's first attempt gets an equal share of the time: one per attempt that can actually happen. */
  private firstDeadline(inv: ClientInvocation, at: number): number {
    const t = inv.target;
    if (!t.idempotent || t.attempts === 1 || inv.deadline === Infinity) return inv.deadline;
    const possible = Math.min(t.attempts, this.picker.untried(undefined));
    if (possible <= 1) return inv.deadline;
    return Math.min(inv.deadline, at + Math.max(1, Math.ceil((inv.deadline - at) / possible)));
  }

  /** After a failed attempt: retry elsewhere while it is safe and time is left; else the last failure is the call's. */
  private async recover(err: unknown, prepared: PreparedCall, tried: Endpoint[]): Promise<unknown> {
    const inv = prepared.invocation;
    const t = inv.target;
    let last = err;
    while (tried.length < t.attempts && retryable(last, t) && inv.signal?.aborted !== true) {
      const at = now();
      const left = inv.deadline - at;
      // A retry with (almost) no time left would only turn a clear error into a TIMEOUT.
      if (left < Math.max(1, inv.timeout * MIN_RETRY_BUDGET)) break;
      const next = this.picker.select(inv, tried);
      if (next === undefined) break;
      // Attempts still possible, this one included: no more than the providers not tried yet.
      const possible = t.idempotent ? Math.max(1, Math.min(t.attempts - tried.length, this.picker.untried(tried))) : 1;
      tried.push(next);
      const deadline = inv.deadline === Infinity ? Infinity : Math.min(inv.deadline, at + Math.max(1, Math.ceil(left / possible)));
      try {
        return await next.invoke(prepared, deadline, at);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
}

function retryable(err: unknown, t: MethodTarget): boolean {
  if (!(err instanceof HeartlineError)) return false;
  return err.retrySafe || (t.idempotent && RETRY_IF_IDEMPOTENT.includes(err.code));
}
