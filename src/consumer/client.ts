import { EventEmitter } from 'node:events';
import { serviceOf, type Contract } from '../decorators/metadata.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { DisconnectReason } from '../exchange/connection-state.js';
import { DEFAULT_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { emitGuarded } from '../transport/guarded.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { ConnectionRegistry, type ConnectionInfo } from './connection-registry.js';
import { StaticDirectory, type ProviderEntry } from './directory.js';
import type { LoadBalanceName } from './load-balance/index.js';
import { Reference, type ClusterMode, type ReferenceDefaults, type ReferenceOptions, type StackTraceMode } from './reference.js';
import { createStub, stubReference, type Remote } from './stub.js';

/** Options of `new Client(options)`. Every time is in ms. */
export interface ClientOptions {
  /** Providers (`host:port` or `{ address, weight }`) used by every reference that names none. Default none. */
  providers?: ProviderEntry[];
  /** Default call timeout; a method's and a reference's own timeout win over it. Default 3000. 0 means none. */
  timeout?: number;
  /** Time allowed to open a connection and finish its handshake. Default 3000. */
  connectTimeout?: number;
  /** Connections per provider; calls spread over them by fewest in flight. Default 1. */
  connections?: number;
  /** Connect to every listed provider when a reference is made, instead of on the first call. Default false (lazy). */
  eager?: boolean;
  /** Close connections that carried no call for this long; they reopen on demand. Default 0 (never). */
  idleTimeout?: number;
  /** Ping interval proposed to providers; the provider's answer is used. Default 15000. 0 proposes none. */
  heartbeat?: number;
  /** Heartbeat intervals without a single byte from the provider before it is declared dead. Default 3. */
  heartbeatMisses?: number;
  /** Reconnect backoff. Defaults: initialDelay 500, factor 2, maxDelay 30000, jitter 0.2. */
  reconnect?: BackoffOptions;
  /** Bound on calls pending across the client; past it calls fail at once with LIMIT_EXCEEDED. Default 100000. */
  maxPendingCalls?: number;
  /** Default extra attempts under failover. Default 2. */
  retries?: number;
  /** Default cluster mode. Default `failover`. */
  cluster?: ClusterMode;
  /** Default load balancer. Default `random`. */
  loadbalance?: LoadBalanceName;
  /** Largest frame (16-byte header + body) accepted from a provider, in bytes. Default 8 MiB. */
  maxFrameSize?: number;
  /** Bound on request bytes waiting to be written per connection, in bytes. Default 4 × maxFrameSize. */
  maxQueuedBytes?: number;
  /** Initial delay of TCP keepalive probes. Default 60000. */
  keepAliveDelay?: number;
  /**
   * How a failed call's stack shows its caller. `async` (default): re-captured
   * on failure, naming every awaiting caller, free on success. `eager`:
   * captured at each call (also shows callers that do not await; costs a few
   * µs per call). `off`: Heartline's own frames only.
   */
  stackTraces?: StackTraceMode;
  /** Random source in [0, 1) for load balancing and backoff jitter (seed it in tests). Default Math.random. */
  random?: () => number;
  /** Where protocol errors and failsafe failures are reported. Default: stderr. */
  logger?: Logger;
}

/** Events of a Client. */
export interface ClientEvents {
  /** A connection finished its handshake. */
  connect: [info: ConnectionInfo];
  /** A connection closed, and why. */
  disconnect: [info: ConnectionInfo, reason: DisconnectReason];
  /** A provider that was lost is reachable again, after `attempts` tries. */
  reconnect: [address: string, attempts: number];
}

interface ConsumerField {
  property: string | symbol;
  contract: Contract;
  options: ReferenceOptions;
}

export const CONSUMER_FIELDS_KEY = 'heartline:consumers';

function positive(name: string, value: number | undefined, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new HeartlineError('INVALID_CONFIG', `${name} must be a number >= ${min}`);
  return v;
}

/**
 * A Heartline consumer. It owns a connection registry (per provider, lazily
 * opened and shared connections that ping when idle and reconnect with backoff)
 * and hands out typed stubs.
 */
export class Client extends EventEmitter<ClientEvents> {
  private readonly registry: ConnectionRegistry;
  private readonly defaults: ReferenceDefaults;

  constructor(options: ClientOptions = {}) {
    super();
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > 0xffffffff) {
      throw new HeartlineError('INVALID_CONFIG', `maxFrameSize must be an integer from ${MIN_MAX_FRAME_SIZE} to 4 GiB`);
    }
    const logger = options.logger ?? consoleLogger;
    const random = options.random ?? Math.random;
    this.defaults = Object.freeze({
      providers: options.providers === undefined ? undefined : new StaticDirectory(options.providers),
      timeout: positive('timeout', options.timeout, 3000),
      retries: positive('retries', options.retries, 2),
      cluster: options.cluster ?? 'failover',
      loadbalance: options.loadbalance ?? 'random',
      stackTraces: options.stackTraces ?? 'async',
      random,
      logger,
    });
    this.registry = new ConnectionRegistry(
      {
        connection: {
          connectTimeout: positive('connectTimeout', options.connectTimeout, 3000, 1),
          maxFrameSize,
          maxQueuedBytes: positive('maxQueuedBytes', options.maxQueuedBytes, 4 * maxFrameSize, 1),
          keepAliveDelay: positive('keepAliveDelay', options.keepAliveDelay, 60_000),
          heartbeat: positive('heartbeat', options.heartbeat, 15_000),
          heartbeatMisses: positive('heartbeatMisses', options.heartbeatMisses, 3, 1),
          logger,
        },
        maxConnections: positive('connections', options.connections, 1, 1),
        backoff: { ...DEFAULT_BACKOFF, ...options.reconnect },
        random,
        budget: { pending: 0, max: positive('maxPendingCalls', options.maxPendingCalls, 100_000, 1) },
        eager: options.eager ?? false,
        idleTimeout: positive('idleTimeout', options.idleTimeout, 0),
      },
      {
        connect: (info) => emitGuarded(this, logger, 'connect', info),
        disconnect: (info, reason) => emitGuarded(this, logger, 'disconnect', info, reason),
        reconnect: (address, attempts) => emitGuarded(this, logger, 'reconnect', address, attempts),
      },
    );
  }

  /** A typed stub for `contract`: `await client.refer(Greeter).sayHello('Ann')`. No connection opens until the first call (unless `eager`). */
  refer<T>(contract: Contract<T>, options: ReferenceOptions = {}): Remote<T> {
    const reference = new Reference(serviceOf(contract), options, this.defaults, this.registry);
    return createStub<T>(reference);
  }

  /** Fills the `@Consumer` fields of `target` with stubs and returns it. */
  inject<T extends object>(target: T): T {
    const fields: ConsumerField[] = Reflect.getMetadata(CONSUMER_FIELDS_KEY, target) ?? [];
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

  /** The live connections of this client. */
  connections(): ConnectionInfo[] {
    return this.registry.list();
  }

  /** Calls pending across the client. */
  get pendingCalls(): number {
    return this.registry.pending;
  }

  /** Fails calls in flight with CLIENT_CLOSED and closes every connection. Idempotent. */
  async close(): Promise<void> {
    await this.registry.close();
  }
}
