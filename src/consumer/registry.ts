import type { Directory } from './directory.js';

/**
 * A service registry as a consumer sees it: a `Directory` per (service,
 * version, group), and the registry's own health. `EtcdRegistry`
 * (src/discovery/) implements it; the consumer layer knows only this.
 */
export interface ConsumerRegistry {
  /**
   * The providers of one service version and group. The same object for the
   * same three strings, so the client follows it once however many
   * references use it.
   */
  directory(service: string, version: string, group: string): Directory;
  /** The registry's own health now. */
  status(): RegistryStatus;
  /** Calls `listener` after every state change; returns a function that unsubscribes. */
  watchStatus(listener: (status: RegistryStatus) => void): () => void;
}

/**
 * `connecting` until the registry first answered; `up` while it answers;
 * `down` while it does not (directories keep their last list, providers keep
 * serving and retry); `closed` after `close()`.
 */
export type RegistryState = 'connecting' | 'up' | 'down' | 'closed';

/** A registry's health, as `client.registries()` and the client's `registry` event report it. */
export interface RegistryStatus {
  /** What and where it is, e.g. `etcd 127.0.0.1:2379 /heartline`. */
  readonly name: string;
  readonly state: RegistryState;
  /** ms since the state last changed. */
  readonly since: number;
  /** The last error that made it `down`, if any. */
  readonly lastError: string | undefined;
}

export function isConsumerRegistry(value: unknown): value is ConsumerRegistry {
  const r = value as ConsumerRegistry | null;
  return typeof r === 'object' && r !== null && typeof r.directory === 'function' && typeof r.status === 'function' && typeof r.watchStatus === 'function';
}
