import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Contract } from '../decorators/metadata.js';
import { providerOf, type ProviderOptions } from '../decorators/provider.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ConnectionState, type DisconnectReason } from '../exchange/connection-state.js';
import { DEFAULT_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { now } from '../transport/clock.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { ServerConnection, type ServerConnectionHooks, type ServerConnectionOptions } from './server-connection.js';
import { ServiceRegistry } from './service-registry.js';

/** Options of `new Server(options)`. Every time is in ms. */
export interface ServerOptions {
  /** Interface to listen on. Default: every interface (Node's default). */
  host?: string;
  /** TCP port; 0 picks a free one. Default 20880 (Dubbo's). */
  port?: number;
  /** Close a connection that sent nothing (not even a ping) for this long. Default 60000. 0 never does. */
  idleTimeout?: number;
  /** Shortest ping interval granted to consumers (they may propose less). Default 1000. */
  minHeartbeat?: number;
  /** Cap on open connections; one over it is refused in the handshake with LIMIT_EXCEEDED. Default none. */
  accepts?: number;
  /** Timeout of pushes to consumer callbacks. Default 3000. */
  callbackTimeout?: number;
  /** Largest frame (16-byte header + body) accepted from a consumer, in bytes. Default 8 MiB. */
  maxFrameSize?: number;
  /** Bound on response bytes waiting to be written per connection, in bytes. Default 4 × maxFrameSize. */
  maxQueuedBytes?: number;
  /** Initial delay of TCP keepalive probes. Default 60000. */
  keepAliveDelay?: number;
  /** Send handlers' stack traces to consumers. Default false: only code, name, message and details travel. */
  exposeStack?: boolean;
  /** How long `close()` lets calls in flight finish after sending drain. Default 10000. */
  closeGracePeriod?: number;
  /** Where protocol errors and other events that cannot be thrown are reported. Default: stderr. */
  logger?: Logger;
}

export interface ServerAddress {
  host: string;
  port: number;
}

/** A live consumer connection as `server.connections()` reports it. */
export interface ServerConnectionInfo {
  id: number;
  /** Consumer address, `host:port`. */
  peer: string;
  state: string;
  /** ms since the connection was accepted. */
  age: number;
  /** ms since bytes last arrived. */
  lastRead: number;
  /** ms since bytes were last written. */
  lastWrite: number;
  /** Ping interval granted to the consumer, in ms. */
  heartbeat: number;
  /** Calls executing for this connection. */
  inFlight: number;
}

/** Events of a Server. */
export interface ServerEvents {
  connect: [info: ServerConnectionInfo];
  disconnect: [info: ServerConnectionInfo, reason: DisconnectReason];
}

function checkNumber(name: string, value: number | undefined, fallback: number, min = 0): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < min) throw new HeartlineError('INVALID_CONFIG', `${name} must be a number >= ${min}`);
  return v;
}

/**
 * A Heartline provider: it accepts connections and dispatches each request to a
 * registered service instance by (service, version, group).
 */
export class Server extends EventEmitter<ServerEvents> implements ServerConnectionHooks {
  private readonly registry = new ServiceRegistry();
  private readonly connectionSet = new Set<ServerConnection>();
  private readonly net: NetServer;
  private readonly host: string | undefined;
  private readonly port: number;
  private readonly connectionOptions: ServerConnectionOptions;
  private readonly closeGracePeriod: number;
  private readonly accepts: number;
  private closing: Promise<void> | undefined;
  /** Connections accepted since start. */
  connectionsAccepted = 0;

  constructor(options: ServerOptions = {}) {
    super();
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < MIN_MAX_FRAME_SIZE || maxFrameSize > 0xffffffff) {
      throw new HeartlineError('INVALID_CONFIG', `maxFrameSize must be an integer from ${MIN_MAX_FRAME_SIZE} to 4 GiB`);
    }
    this.host = options.host;
    this.port = checkNumber('port', options.port, 20880);
    this.closeGracePeriod = checkNumber('closeGracePeriod', options.closeGracePeriod, 10_000);
    this.accepts = checkNumber('accepts', options.accepts, Infinity, 1);
    this.connectionOptions = {
      maxFrameSize,
      maxQueuedBytes: checkNumber('maxQueuedBytes', options.maxQueuedBytes, 4 * maxFrameSize, 1),
      keepAliveDelay: checkNumber('keepAliveDelay', options.keepAliveDelay, 60_000),
      exposeStack: options.exposeStack ?? false,
      idleTimeout: checkNumber('idleTimeout', options.idleTimeout, 60_000),
      minHeartbeat: checkNumber('minHeartbeat', options.minHeartbeat, 1000),
      callbackTimeout: checkNumber('callbackTimeout', options.callbackTimeout, 3000),
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
    return this.connectionSet.size;
  }

  /** The live consumer connections. */
  connections(): ServerConnectionInfo[] {
    return [...this.connectionSet].map(describe);
  }

  /**
   * Graceful shutdown, in order: sends drain on every connection, stops
   * accepting, lets calls in flight finish (consumers close their connections
   * once their calls have settled) within `closeGracePeriod`, then closes what
   * is left. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * Installs handlers that call `close()` on these signals and then exit the
   * process (code 0). Returns a function that removes them.
   */
  closeOnSignals(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): () => void {
    const handler = (): void => {
      void this.close().then(() => process.exit(0));
    };
    for (const s of signals) process.once(s, handler);
    return () => {
      for (const s of signals) process.off(s, handler);
    };
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const conn of this.connectionSet) conn.drain();
    const allClosed = Promise.all([...this.connectionSet].map((c) => new Promise<void>((resolve) => c.onceClosed(resolve))));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeGracePeriod);
    });
    await Promise.race([allClosed, grace]);
    clearTimeout(timer);
    for (const conn of this.connectionSet) conn.destroy('drain');
    await allClosed;
    await stopped;
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.connectionsAccepted++;
    this.connectionSet.add(new ServerConnection(socket, this.registry, this.connectionOptions, this));
  }

  // ServerConnectionHooks
  admit(conn: ServerConnection): HeartlineError | undefined {
    if (this.closing !== undefined) return new HeartlineError('UNAVAILABLE', 'provider is shutting down');
    let ready = 0;
    for (const c of this.connectionSet) if (c !== conn && c.state !== ConnectionState.Handshaking && c.state !== ConnectionState.Closed) ready++;
    if (ready >= this.accepts) return new HeartlineError('LIMIT_EXCEEDED', `provider accepts at most ${this.accepts} connections`);
    return undefined;
  }

  onReady(conn: ServerConnection): void {
    this.emit('connect', describe(conn));
  }

  onClose(conn: ServerConnection, reason: DisconnectReason): void {
    this.connectionSet.delete(conn);
    this.emit('disconnect', describe(conn), reason);
  }
}

function describe(c: ServerConnection): ServerConnectionInfo {
  const t = now();
  return {
    id: c.id,
    peer: c.peer,
    state: c.state,
    age: t - c.createdAt,
    lastRead: t - c.lastReadAt(),
    lastWrite: t - c.lastWriteAt(),
    heartbeat: c.heartbeatInterval,
    inFlight: c.inFlight,
  };
}
