import type { Logger } from '../../transport/logger.js';
import type { ProviderPicker } from '../provider-picker.js';
import type { ClusterInvoker, ClusterMode } from './cluster-invoker.js';
import { FailfastInvoker } from './failfast.js';
import { FailoverInvoker } from './failover.js';
import { FailsafeInvoker } from './failsafe.js';

export type { ClusterInvoker, ClusterMode } from './cluster-invoker.js';

/** The cluster invoker of a reference's `cluster` mode. */
export function createClusterInvoker(mode: ClusterMode, picker: ProviderPicker, logger: Logger): ClusterInvoker {
  switch (mode) {
    case 'failover':
      return new FailoverInvoker(picker);
    case 'failsafe':
      return new FailsafeInvoker(new FailfastInvoker(picker), logger);
    default:
      return new FailfastInvoker(picker);
  }
}

