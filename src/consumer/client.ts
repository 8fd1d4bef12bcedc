import { serviceOf, type Contract } from '../decorators/metadata.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { DEFAULT_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { ConnectionRegistry, type ConnectionInfo } from './connection-registry.js';
import { Reference, type ReferenceOptions } from './reference.js';
import { createStub, type Remote } from './stub.js';

/** Options of `new Client(options)`. */
export interface ClientOptions {
  /** Provider addresses (`host:port`) used by every reference that names none. Default none. */
  providers?: string[];
  /** Default call timeout, in ms; a method's and a reference's own timeout win over it. Default 3000. 0 means none. */
  timeout?: number;
  /** Time allowed to open a connection and finish its handshake, in ms. Default 3000. */
  connectTimeout?: number;
  /** Largest frame (16-byte header + body) accepted from a provider, in bytes. Default 8 MiB. */
  maxFrameSize?: number;
  /** Bound on request bytes waiting to be written per connection, in bytes. Default 4 × maxFrameSize. */
  maxQueuedBytes?: number;
  /** Initial delay of TCP keepalive probes, in ms. Default 60000. */
  keepAliveDelay?: number;
  /** Capture the caller's stack on each call and append it to late failures. Default true. */
  captureStack?: boolean;
  /** Where protocol errors are reported. Default: stderr. */
  logger?: Logger;
}

interface ConsumerField {
  property: string | symbol;
  contract: Contract;
  options: ReferenceOptions;
}

export const CONSUMER_FIELDS_KEY = 'heartline:consumers';

/**
 * A Heartline consumer. It owns a connection registry (one shared, lazily
 * opened connection per provider address) and hands out typed stubs.
 */
export class Client {
  private readonly registry: ConnectionRegistry;
  private readonly defaults: { providers: readonly string[]; timeout: number; captureStack: boolean };
  private closedFlag = false;
  private readonly isClosed = (): boolean => this.closedFlag;

  constructor(options: ClientOptions = {}) {
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > 0xffffffff) {
      throw new HeartlineError('INVALID_CONFIG', `maxFrameSize must be an integer from ${MIN_MAX_FRAME_SIZE} to 4 GiB`);
    }
    this.defaults = Object.freeze({
      providers: Object.freeze([...(options.providers ?? [])]),
      timeout: options.timeout ?? 3000,
      captureStack: options.captureStack ?? true,
    });
    this.registry = new ConnectionRegistry({
      connectTimeout: options.connectTimeout ?? 3000,
      maxFrameSize,
      maxQueuedBytes: options.maxQueuedBytes ?? 4 * maxFrameSize,
      keepAliveDelay: options.keepAliveDelay ?? 60_000,
      logger: options.logger ?? consoleLogger,
    });
  }

  /** A typed stub for `contract`: `await client.refer(Greeter).sayHello('Ann')`. No connection opens until the first call. */
  refer<T>(contract: Contract<T>, options: ReferenceOptions = {}): Remote<T> {
    const reference = new Reference(serviceOf(contract), options, this.defaults, this.registry, this.isClosed);
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

  /** The live connections of this client. */
  connections(): ConnectionInfo[] {
    return this.registry.list();
  }

  /** Fails calls in flight with CLIENT_CLOSED and closes every connection. Idempotent. */
  async close(): Promise<void> {
    this.closedFlag = true;
    await this.registry.close();
  }
}
