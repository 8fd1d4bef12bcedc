import type { HeartlineError } from '../errors/heartline-error.js';
import { unwatchAbort, watchAbort, type AbortWatcher } from '../exchange/abort-watch.js';
import { cancelledError } from '../exchange/connection-call.js';
import { withOrigin } from '../exchange/pending-calls.js';
import type { ClientInvocation } from './invocation.js';

/**
 * The caller's signal at the top of a call that has interceptors: the call
 * rejects with CANCELLED the moment the signal fires, even while an
 * interceptor holds it (awaits something before `next()`, or never calls
 * it), as `withOptions` promises. The stages below see the same signal and
 * stop on their own (nothing is written after it fired); whatever the chain
 * settles with later is dropped. Calls without interceptors need no guard:
 * the stage waiting on the signal rejects at once itself.
 */
export function guardSignal(inv: ClientInvocation, signal: AbortSignal, chain: Promise<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const guard = new SignalGuard(inv, signal, resolve, reject);
    if (signal.aborted) guard.onAbort();
    else watchAbort(signal, guard);
    chain.then(
      (value) => guard.settle(false, value),
      (err: unknown) => guard.settle(true, err),
    );
  });
}

class SignalGuard implements AbortWatcher {
  private settled = false;
  constructor(
    private readonly inv: ClientInvocation,
    private readonly signal: AbortSignal,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  onAbort(): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(withOrigin(cancelledError(this.inv.target.label, this.signal), this.inv.origin) as HeartlineError);
  }

  /** The chain settled: its outcome is the call's, unless the signal came first. A rejection with `undefined` is still one. */
  settle(failed: boolean, outcome: unknown): void {
    unwatchAbort(this.signal, this);
    if (this.settled) return;
    this.settled = true;
    if (failed) this.reject(outcome);
    else this.resolve(outcome);
  }
}
