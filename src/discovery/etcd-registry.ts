import type { Etcd3, IOptions } from 'etcd3';
import type { Directory } from '../consumer/directory.js';
import type { ConsumerRegistry, RegistryState, RegistryStatus } from '../consumer/registry.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { Announcement, Publication, ProviderRegistry } from '../provider/publisher.js';
import { now } from '../transport/clock.js';
import { callGuarded } from '../transport/guarded.js';
import { logErr } from '../transport/log-fields.js';
import { EtcdDirectory } from './etcd-directory.js';
import type { EtcdHost } from './etcd-host.js';
import { EtcdPublication } from './etcd-publication.js';
import { resolveEtcdOptions, type EtcdRegistryOptions, type ResolvedEtcdOptions } from './etcd-registry-options.js';
import { serviceKeyPrefix } from './provider-record.js';

export type { EtcdRegistryOptions } from './etcd-registry-options.js';

/** Reconnect pace of etcd3's gRPC channel and watch streams: an outage ends for us within a second of etcd's return. */
const RECONNECT_MAX_MS = 1000;

/**
 * Service discovery on etcd, through the `etcd3` package (an optional peer
 * dependency, imported on first use). Providers publish with
 * `new Server({ registry })` or `server.publish(registry)`; consumers find
 * them with `new Client({ registry })` or `refer(Contract, { registry })`.
 * One registry (one etcd client) may serve both sides of a process; close it
 * yourself, after the Server and the Client.
 *
 * Its state (`connecting`, `up`, `down`, `closed`) follows every etcd answer
 * and failure, of directories and publications alike; `status()` reports it.
 */
export class EtcdRegistry implements ConsumerRegistry, ProviderRegistry {
  private readonly options: ResolvedEtcdOptions;
  private readonly host: EtcdHost;
  private etcd: Promise<Etcd3> | undefined;
  private readonly directories = new Map<string, EtcdDirectory>();
  private readonly publications = new Set<EtcdPublication>();
  private readonly statusListeners = new Set<(status: RegistryStatus) => void>();
  private state: RegistryState = 'connecting';
  private changedAt = now();
  private lastError: string | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: EtcdRegistryOptions = {}) {
    this.options = resolveEtcdOptions(options);
    const registry = this; // the host's `closed` getter reads the registry's state
    this.host = {
      client: () => this.client(),
      ttlSeconds: this.options.ttl / 1000,
      logger: this.options.logger,
      reportUp: () => this.transition('up', undefined),
      reportDown: (err) => this.transition('down', err),
      get closed() {
        return registry.closing !== undefined;
      },
    };
  }

  /** The key prefix, e.g. `/heartline`. */
  get prefix(): string {
    return this.options.prefix;
  }

  directory(service: string, version: string, group: string): Directory {
    if (this.closing !== undefined) throw new HeartlineError('INVALID_CONFIG', 'this EtcdRegistry was closed');
    const keyPrefix = serviceKeyPrefix(this.options.prefix, service, version, group);
    let d = this.directories.get(keyPrefix);
    if (d === undefined) this.directories.set(keyPrefix, (d = new EtcdDirectory(this.host, keyPrefix)));
    return d;
  }

  publish(announcement: Announcement): Publication {
    if (this.closing !== undefined) throw new HeartlineError('INVALID_CONFIG', 'this EtcdRegistry was closed');
    const p = new EtcdPublication(this.host, this.options.prefix, announcement, (done) => this.publications.delete(done));
    this.publications.add(p);
    return p;
  }

  status(): RegistryStatus {
    return Object.freeze({ name: this.name, state: this.state, since: now() - this.changedAt, lastError: this.lastError });
  }

  watchStatus(listener: (status: RegistryStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Withdraws what is still published (revokes the leases), stops every watch and closes the etcd client. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.publications].map((p) => p.withdraw()));
    for (const d of this.directories.values()) d.stop();
    this.transition('closed', undefined);
    const etcd = await this.etcd?.catch(() => undefined);
    etcd?.close();
  }

  private get name(): string {
    // user:password@ in a host URL is a credential: never in a log line or a status
    return `etcd ${this.options.hosts.map((h) => h.replace(/\/\/[^/@]*@/, '//')).join(',')} ${this.options.prefix}`;
  }

  /** The one state gate: records, then tells the listeners (after the state has settled). */
  private transition(to: RegistryState, err: Error | undefined): void {
    if (this.state === 'closed' || (this.state === to && err === undefined)) return;
    if (err !== undefined) this.lastError = err.message;
    if (this.state === to) return;
    this.state = to;
    this.changedAt = now();
    if (to === 'down') this.options.logger.warn({ registry: this.name, err: logErr(err ?? this.lastError, 'UNAVAILABLE') }, `etcd unreachable (${this.name}): ${this.lastError}; keeping the last known providers`);
    const status = this.status();
    for (const l of [...this.statusListeners]) callGuarded(this.options.logger, 'a registry status listener', l, undefined, [status]);
  }

  private client(): Promise<Etcd3> {
    if (this.closing !== undefined) return Promise.reject(new HeartlineError('INVALID_CONFIG', 'this EtcdRegistry was closed'));
    this.etcd ??= this.load();
    return this.etcd;
  }

  private async load(): Promise<Etcd3> {
    let mod: typeof import('etcd3');
    try {
      mod = await import('etcd3');
    } catch (err) {
      const e = new HeartlineError('INVALID_CONFIG', 'EtcdRegistry needs the etcd3 package: npm install etcd3', { cause: err });
      this.options.logger.error({ err: e }, e.message);
      throw e;
    }
    const o = this.options;
    const timeout = o.requestTimeout;
    const options: IOptions = {
      hosts: [...o.hosts],
      dialTimeout: timeout,
      // Streams (watches, keepalives) live on; single requests get a deadline.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': RECONNECT_MAX_MS },
      faultHandling: {
        // etcd3's default circuit breaker refuses calls for 5 s after 3 failures, and its default global
        // policy retries a timed-out call 3 times (4 x requestTimeout): our own retries pace themselves.
        host: () => PASS_THROUGH as never,
        global: PASS_THROUGH as never,
        watchBackoff: new CappedBackoff(100),
      },
    };
    if (o.credentials !== undefined) options.credentials = { ...o.credentials };
    if (o.auth !== undefined) options.auth = { ...o.auth };
    return new mod.Etcd3(options);
  }
}

/** A fault-handling policy that runs each call once, as is. */
const PASS_THROUGH = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => T | Promise<T>): Promise<T> => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
};

/** Backoff of etcd3's watch reconnects (cockatiel's IBackoff): doubling from `duration`, at most RECONNECT_MAX_MS. */
class CappedBackoff {
  constructor(readonly duration: number) {}
  next(): CappedBackoff {
    return new CappedBackoff(Math.min(this.duration * 2, RECONNECT_MAX_MS));
  }
}

