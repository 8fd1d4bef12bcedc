import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { providerOf, type ProviderOptions } from '../decorators/provider.js';
import type { Contract } from '../decorators/metadata.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { DEFAULT_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { ServerConnection, type ServerConnectionOptions } from './server-connection.js';
import { ServiceRegistry } from './service-registry.js';

/** Options of `new Server(options)`. */
export interface ServerOptions {
  /** Interface to listen on. Default: every interface (Node's default). */
  host?: string;
  /** TCP port; 0 picks a free one. Default 20880 (Dubbo's). */
  port?: number;
  /** Largest frame (16-byte header + body) accepted from a consumer, in bytes. Default 8 MiB. */
  maxFrameSize?: number;
  /** Bound on response bytes waiting to be written per connection, in bytes. Default 4 × maxFrameSize. */
  maxQueuedBytes?: number;
  /** Initial delay of TCP keepalive probes, in ms. Default 60000. */
  keepAliveDelay?: number;
  /** Send handlers' stack traces to consumers. Default false: only code, name and message travel. */
  exposeStack?: boolean;
  /** How long `close()` lets calls in flight finish after sending drain, in ms. Default 10000. */
  closeGracePeriod?: number;
  /** Where protocol errors and other events that cannot be thrown are reported. Default: stderr. */
  logger?: Logger;
}

export interface ServerAddress {
  host: string;
  port: number;
}

/**
 * A Heartline provider: it accepts connections and dispatches each request to a
 * registered service instance by (service, version, group).
 */
export class Server {
  private readonly registry = new ServiceRegistry();
  private readonly connections = new Set<ServerConnection>();
  private readonly net: NetServer;
  private readonly host: string | undefined;
  private readonly port: number;
  private readonly connectionOptions: ServerConnectionOptions;
  private readonly closeGracePeriod: number;
  private closing: Promise<void> | undefined;
  /** Connections accepted since start. */
  connectionsAccepted = 0;

  constructor(options: ServerOptions = {}) {
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > 0xffffffff) {
      throw new HeartlineError('INVALID_CONFIG', `maxFrameSize must be an integer from ${MIN_MAX_FRAME_SIZE} to 4 GiB`);
    }
    this.host = options.host;
    this.port = options.port ?? 20880;
    this.closeGracePeriod = options.closeGracePeriod ?? 10_000;
    this.connectionOptions = {
      maxFrameSize,
      maxQueuedBytes: options.maxQueuedBytes ?? 4 * maxFrameSize,
      keepAliveDelay: options.keepAliveDelay ?? 60_000,
      exposeStack: options.exposeStack ?? false,
      logger: options.logger ?? consoleLogger,
    };
    this.net = createServer((socket) => this.accept(socket));
    this.net.on('error', (err) => this.connectionOptions.logger.error(`server error: ${err.message}`));
  }

  /**
   * Exports a service. Either an instance of a `@Provider` class, or a contract
   * and any object implementing it.
   */
  register(instance: object, options?: ProviderOptions): this;
  register<T extends object>(contract: Contract<T>, implementation: T, options?: ProviderOptions): this;
  register(a: object, b?: object, c?: ProviderOptions): this {
    if (typeof a === 'function') {
      if (b === undefined) throw new HeartlineError('INVALID_CONFIG', 'register(contract, implementation): implementation missing');
      this.registry.register(a as Contract, b, c);
    } else {
      const record = providerOf(a);
      this.registry.register(record.contract, a, { ...record.options, ...(b as ProviderOptions | undefined) });
    }
    return this;
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<ServerAddress> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.net.once('error', onError);
      this.net.listen(this.port, this.host, () => {
        this.net.off('error', onError);
        resolve(this.address!);
      });
    });
  }

  /** The bound address, or undefined before `listen()`. */
  get address(): ServerAddress | undefined {
    const info = this.net.address() as AddressInfo | null;
    return info === null ? undefined : { host: info.address, port: info.port };
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful shutdown: sends drain on every connection, stops accepting, lets
   * calls in flight finish within `closeGracePeriod`, then closes. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const conn of this.connections) conn.drain();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeGracePeriod);
      timer.unref();
    });
    await Promise.race([Promise.all([...this.connections].map((c) => c.idle())), grace]);
    clearTimeout(timer);
    for (const conn of this.connections) conn.end();
    // Give peers a moment to close their side, then cut what is left.
    const ended = Promise.all([...this.connections].map((c) => new Promise<void>((resolve) => c.onceClosed(resolve))));
    const cut = setTimeout(() => {
      for (const conn of this.connections) conn.destroy();
    }, 1000);
    cut.unref();
    await ended;
    clearTimeout(cut);
    await stopped;
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.connectionsAccepted++;
    const conn = new ServerConnection(socket, this.registry, this.connectionOptions, (c) => this.connections.delete(c));
    this.connections.add(conn);
  }
}
