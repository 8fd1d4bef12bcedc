import type { HeartlineError } from '../../errors/heartline-error.js';
import type { Logger } from '../../transport/logger.js';
import { logErr } from '../../transport/log-fields.js';
import type { ClientInvocation } from '../invocation.js';
import type { ClusterInvoker } from './cluster-invoker.js';

/**
 * One attempt (failfast); a failure is logged as a warning and the call
 * resolves with undefined. A cancellation is not a failure: once the call's
 * signal fired it rejects CANCELLED, as any cancelled call does.
 */
export class FailsafeInvoker implements ClusterInvoker {
  constructor(
    private readonly inner: ClusterInvoker,
    private readonly logger: Logger,
  ) {}

  invoke(inv: ClientInvocation, at?: number): Promise<unknown> {
    return this.inner.invoke(inv, at).catch((err: unknown) => {
      if (inv.signal?.aborted === true && (err as HeartlineError)?.code === 'CANCELLED') throw err;
      this.logger.warn({ service: inv.target.service, method: inv.target.method, err: logErr(err) }, `${inv.target.label} failed (failsafe, returning undefined): ${(err as Error)?.message}`);
      return undefined;
    });
  }
}
