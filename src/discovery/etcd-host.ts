import type { Etcd3 } from 'etcd3';
import type { Logger } from '../transport/logger.js';

/**
 * What a directory and a publication need from their EtcdRegistry: the etcd
 * client (loaded on first use), the lease TTL, and where to report whether
 * etcd answers (the registry's state).
 */
export interface EtcdHost {
  client(): Promise<Etcd3>;
  /** Lease TTL in seconds. */
  readonly ttlSeconds: number;
  readonly logger: Logger;
  /** etcd answered. */
  reportUp(): void;
  /** etcd did not answer. */
  reportDown(err: Error): void;
  /** True once the registry was closed: nothing retries any longer. */
  readonly closed: boolean;
}
