/**
 * What a provider needs from a service registry: publish what it serves at
 * one address, keep it published, withdraw it. `EtcdRegistry`
 * (src/discovery/) implements it; the provider layer knows only this.
 */
export interface ProviderRegistry {
  /** Starts publishing `announcement`; the registry keeps it published (re-registering after an outage) until `withdraw()`. */
  publish(announcement: Announcement): Publication;
}

/** One exported service, as published. */
export interface PublishedService {
  readonly service: string;
  readonly version: string;
  readonly group: string;
  readonly methods: readonly string[];
}

/** Everything a provider publishes at one address. */
export interface Announcement {
  /** `host:port` consumers connect to. */
  readonly address: string;
  /** Relative weight for load balancing (default 100). */
  readonly weight: number;
  readonly pid: number;
  /** When the server started listening (ISO 8601). */
  readonly startTime: string;
  /** User metadata, published as is (JSON). */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly services: readonly PublishedService[];
}

/** A live publication. */
export interface Publication {
  /** Settles once the first registration attempt has finished: resolves when it was written, rejects with its error (the registry keeps retrying in the background). */
  readonly first: Promise<void>;
  /** Replaces what is published (a service registered after `listen()`). */
  update(announcement: Announcement): void;
  /** Deletes the records (revokes the lease) and stops re-registering. Idempotent; never rejects. */
  withdraw(): Promise<void>;
}

/** Options of `server.publish(registry, options)`. */
export interface PublishOptions {
  /** Relative weight for load balancing, a finite number >= 0. Default 100. */
  weight?: number;
  /** User metadata published with every record (JSON-serializable). Default `{}`. */
  metadata?: Record<string, unknown>;
}

export function isProviderRegistry(value: unknown): value is ProviderRegistry {
  return typeof value === 'object' && value !== null && typeof (value as ProviderRegistry).publish === 'function';
}
