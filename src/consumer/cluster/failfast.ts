import { HeartlineError } from '../../errors/heartline-error.js';
import type { ProviderPicker } from '../provider-picker.js';
import type { ClientInvocation } from '../invocation.js';
import { firstAttemptAfterListing, prepareCall, type ClusterInvoker } from './cluster-invoker.js';

/** One attempt on one provider; its failure is the call's. */
export class FailfastInvoker implements ClusterInvoker {
  constructor(private readonly picker: ProviderPicker) {}

  invoke(inv: ClientInvocation): Promise<unknown> {
    const prepared = prepareCall(inv);
    if (prepared instanceof HeartlineError) return Promise.reject(prepared);
    const first = this.picker.select(inv, undefined);
    if (first !== undefined) return first.invoke(prepared, inv.deadline);
    const listing = this.picker.loading();
    if (listing === undefined) return Promise.reject(this.picker.unavailable(inv));
    return firstAttemptAfterListing(this.picker, listing, prepared, rethrow);
  }
}

function rethrow(err: unknown): never {
  throw err;
}
