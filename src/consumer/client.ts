import { EventEmitter } from 'node:events';
import { serviceOf, type Contract } from '../contract/service-definition.js';
import type { DisconnectReason } from '../exchange/connection-state.js';
import { TimerWheel } from '../exchange/timer-wheel.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { channels } from '../context/channels.js';
import type { ClientInterceptor } from './client-interceptor.js';
import { checkNumber, checkObject } from '../errors/invalid-config.js';
import { parseAddress } from './address.js';
import { checkInterceptors, resolveClientOptions, TIME, validateReferenceOptions, type ClientOptions } from './client-options.js';
import { consumerFieldsOf } from './consumer-fields.js';
import { ConnectionRegistry, type ConnectionInfo, type ProviderListHold } from './connection-registry.js';
import { StaticDirectory } from './directory.js';
import type { ConsumerRegistry, RegistryStatus } from './registry.js';
import { Reference, type ReferenceDefaults, type ReferenceOptions } from './reference.js';
import { emitGuarded } from '../transport/guarded.js';
import type { Logger } from '../transport/logger.js';
import { withFields } from '../transport/log-fields.js';
import { createStub, stubReference, type Remote } from './stub.js';

export type { ClientOptions } from './client-options.js';

/** Events of a Client. */
export interface ClientEvents {
  /** A connection finished its handshake. */
  connect: [info: ConnectionInfo];
  /** A connection closed, and why. */
  disconnect: [info: ConnectionInfo, reason: DisconnectReason];
  /** A provider that was lost is reachable again, after `attempts` tries. */
  reconnect: [address: string, attempts: number];
  /** A registry this client uses changed state (`up`, `down`, ...). */
  registry: [status: RegistryStatus];
}

/**
 * A Heartline consumer. It owns a connection registry (per provider, lazily
 * opened and shared connections that ping when idle and reconnect with backoff)
 * and hands out typed stubs.
 */
export class Client extends EventEmitter<ClientEvents> {
  private readonly registry: ConnectionRegistry;
  /** Drives the heartbeat clocks of every connection of this client: one timer; stopped at close. */
  private readonly timers = new TimerWheel();
  private readonly defaults: ReferenceDefaults;
  /** The client follows its own `providers` from the first reference that uses them until close. */
  private providersHold: ProviderListHold | undefined;
  /** The client's `registry` option. */
  private readonly defaultRegistry: ConsumerRegistry | undefined;
  /** Registries in use, with the function that stops watching their state. */
  private readonly registrySet = new Map<ConsumerRegistry, () => void>();
  private readonly logger: Logger;
  /** The client-wide interceptors (`use`), shared with every reference. */
  private readonly interceptors: { list: readonly ClientInterceptor[]; version: number } = { list: [], version: 0 };

  constructor(options: ClientOptions = {}) {
    super();
    const o = resolveClientOptions(options);
    this.defaultRegistry = o.registry;
    this.logger = o.logger;
    this.defaults = Object.freeze({
      providers: o.providers === undefined ? undefined : new StaticDirectory(o.providers),
      timeout: o.timeout,
      retries: o.retries,
      cluster: o.cluster,
      loadbalance: o.loadbalance,
      stackTraces: o.stackTraces,
      random: o.random,
      logger: o.logger,
      interceptors: this.interceptors,
      client: this,
    });
    this.registry = new ConnectionRegistry(
      {
        connection: {
          connectTimeout: o.connectTimeout,
          maxFrameSize: o.maxFrameSize,
          maxQueuedBytes: o.maxQueuedBytes,
          fragmentSize: o.fragmentSize,
          keepAliveDelay: o.keepAliveDelay,
          heartbeat: o.heartbeat,
          heartbeatMisses: o.heartbeatMisses,
          maxCallbacks: o.maxCallbacks,
          keepProcessAlive: o.keepProcessAlive,
          logger: o.logger,
          tls: o.tls,
          credentials: o.credentials,
          timers: this.timers,
        },
        maxConnections: o.connections,
        backoff: o.reconnect,
        random: o.random,
        budget: { pending: 0, max: o.maxPendingCalls },
        eager: o.eager,
        idleTimeout: o.idleTimeout,
      },
      {
        connect: (info) => {
          if (channels.clientConnect.hasSubscribers) channels.clientConnect.publish({ connection: info, client: this });
          // A listener that throws is logged with its connection (a rare event: a bound logger each time is fine).
          emitGuarded(this, withFields(o.logger, { peer: info.address, connectionId: info.id }), 'connect', info);
        },
        disconnect: (info, reason) => {
          if (channels.clientDisconnect.hasSubscribers) channels.clientDisconnect.publish({ connection: info, client: this, reason });
          emitGuarded(this, withFields(o.logger, { peer: info.address, connectionId: info.id }), 'disconnect', info, reason);
        },
        reconnect: (address, attempts) => {
          if (channels.clientReconnect.hasSubscribers) channels.clientReconnect.publish({ address, attempts, client: this });
          emitGuarded(this, withFields(o.logger, { peer: address }), 'reconnect', address, attempts);
        },
        pong: (address, connectionId, rtt) => {
          channels.clientHeartbeat.publish({ client: this, address, connectionId, rtt });
        },
      },
    );
    if (o.registry !== undefined) this.watchRegistry(o.registry);
  }

  /**
   * Adds a client-wide interceptor: it wraps every call of every reference of
   * this client, outside the reference's own (`interceptors` option); those
   * added first run outermost. Applies to calls made from now on. Returns the
   * client. An interceptor that is not a function fails with INVALID_CONFIG.
   */
  use(interceptor: ClientInterceptor): this {
    const [valid] = checkInterceptors('interceptor', [interceptor]);
    this.interceptors.list = Object.freeze([...this.interceptors.list, valid!]);
    this.interceptors.version++;
    return this;
  }

  /** A typed stub for `contract`: `await client.refer(Greeter).sayHello('Ann')`. No connection opens until the first call (unless `eager`). */
  refer<T>(contract: Contract<T>, options: ReferenceOptions = {}): Remote<T> {
    let valid = validateReferenceOptions(options);
    const definition = serviceOf(contract, 'client.refer');
    // Precedence: the reference's providers, its registry, the client's providers, the client's registry.
    const registry = valid.providers !== undefined ? undefined : (valid.registry ?? (this.defaults.providers === undefined ? this.defaultRegistry : undefined));
    if (registry !== undefined && !this.registry.isClosed) {
      this.watchRegistry(registry);
      valid = { ...valid, providers: registry.directory(definition.name, valid.version ?? definition.version, valid.group ?? definition.group) };
    }
    if (valid.providers === undefined && this.defaults.providers !== undefined) this.providersHold ??= this.registry.hold(this.defaults.providers);
    const reference = new Reference(definition, valid, this.defaults, this.registry);
    return createStub<T>(reference);
  }

  /**
   * Fills the `@Consumer` fields of `target` with stubs and returns it. Throws
   * INVALID_CONFIG when `target` has no `@Consumer` field.
   */
  inject<T extends object>(target: T): T {
    const fields = typeof target === 'object' && target !== null ? consumerFieldsOf(target) : [];
    if (fields.length === 0) {
      const name = (target as object | null)?.constructor?.name || 'object';
      throw new HeartlineError('INVALID_CONFIG', `client.inject(${name}): ${name} has no @Consumer fields: decorate a field with @Consumer(Contract)`);
    }
    for (const field of fields) {
      Object.defineProperty(target, field.property, { value: this.refer(field.contract, field.options), enumerable: true, configurable: true, writable: false });
    }
    return target;
  }

  /**
   * Forgets a callback function passed to providers: their later pushes to it
   * fail with CALLBACK_RELEASED. Returns true if it was registered anywhere.
   */
  releaseCallback(fn: Function): boolean {
    return this.registry.releaseCallback(fn);
  }

  /** Stops a stub's reference from following its provider list (it can still be called if providers remain). */
  release(stub: object): void {
    stubReference(stub)?.release();
  }

  /**
   * Sends one heartbeat ping to the provider at `address` (`host:port`) and
   * resolves with its round-trip time in ms. It uses this client's connection
   * to that provider, opening one if there is none (the first ping then waits
   * for the handshake); a connection opened for pings alone closes about 30 s
   * after the last one, or with the client.
   *
   * `timeout` in ms, default the client's `timeout` (3000; 0: none). Fails
   * with TIMEOUT, CONNECT_FAILED, UNAVAILABLE (the provider is draining or
   * being reconnected to), the connection's error if it closes first,
   * LIMIT_EXCEEDED when more pings now would break the provider's limit on
   * them (protocol.md 4.4: a burst, then one per heartbeat / 2) or when
   * `maxQueuedBytes` wait to be written on the connection, and
   * INVALID_CONFIG for a bad address or timeout.
   */
  async ping(address: string, options: { timeout?: number } = {}): Promise<number> {
    const a = parseAddress(address);
    const timeout = checkNumber('timeout', (checkObject('options', options) as { timeout?: unknown }).timeout, TIME) ?? this.defaults.timeout;
    return this.registry.ping(a, timeout);
  }

  /** The live connections of this client. */
  connections(): ConnectionInfo[] {
    return this.registry.list();
  }

  /** The state of each registry this client's references use (`connecting`, `up`, `down`, `closed`). */
  registries(): RegistryStatus[] {
    return [...this.registrySet.keys()].map((r) => r.status());
  }

  private watchRegistry(registry: ConsumerRegistry): void {
    if (this.registrySet.has(registry)) return;
    this.registrySet.set(registry, registry.watchStatus((status) => emitGuarded(this, this.logger, 'registry', status)));
  }

  /**
   * Calls pending across the client: admitted to a provider, waiting for an
   * active slot or for their response (what `maxPendingCalls` bounds).
   */
  get pendingCalls(): number {
    return this.registry.pending;
  }

  /** Calls waiting for an `actives` / `serviceActives` slot (included in `pendingCalls`). O(providers × methods): for scrapes. */
  get waitingCalls(): number {
    return this.registry.waiting;
  }

  /** Fails calls in flight with CLIENT_CLOSED and closes every connection. Idempotent. */
  async close(): Promise<void> {
    for (const stop of this.registrySet.values()) stop();
    await this.registry.close();
    this.timers.stop();
  }
}
