import type { ProviderPicker } from '../provider-picker.js';
import type { ClientInvocation } from '../invocation.js';
import { now } from '../../transport/clock.js';
import { startCall, type ClusterInvoker } from './cluster-invoker.js';

/** One attempt on one provider; its failure is the call's. */
export class FailfastInvoker implements ClusterInvoker {
  constructor(private readonly picker: ProviderPicker) {}

  invoke(inv: ClientInvocation, at: number = now()): Promise<unknown> {
    return startCall(this.picker, inv, at, callDeadline, undefined);
  }
}

function callDeadline(inv: ClientInvocation): number {
  return inv.deadline;
}
