import { EventEmitter } from 'node:events';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { serviceOf, type Contract } from '../contract/service-definition.js';
import { channels } from '../context/channels.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { DisconnectReason } from '../exchange/connection-state.js';
import { TimerWheel } from '../exchange/timer-wheel.js';
import { emitGuarded } from '../transport/guarded.js';
import { providerOf, type ProviderOptions } from './provider-options.js';
import type { ServerInterceptor } from './server-interceptor.js';
import { createListener, replaceSecureContext, tlsHandshakesUnderWay } from '../transport/secure-socket.js';
import type { ServerTlsOptions } from '../transport/tls-options.js';
import { logErr } from '../transport/log-fields.js';
import { ServerConnection, type ServerConnectionHooks, type ServerConnectionOptions } from './server-connection.js';
import { describe, type ServerConnectionInfo } from './connection-info.js';
import { listenFailed } from './listen-failed.js';
import { PendingHandshakes } from './pending-handshakes.js';
import { resolveServerOptions, type ServerOptions } from './server-options.js';
import { ServiceRegistry } from './service-registry.js';
import { advertisedAddress } from './advertise.js';
import { refuseBuiltinName, registerBuiltins, type BuiltinServices } from './builtin-services.js';
import { ServingStatusTable, type SettableStatus } from './serving-status.js';
import type { Announcement, Publication, ProviderRegistry, PublishOptions } from './publisher.js';

export type { ServerOptions } from './server-options.js';
export type { ServerConnectionInfo } from './connection-info.js';

export interface ServerAddress {
  host: string;
  port: number;
}

/** Events of a Server. */
export interface ServerEvents {
  connect: [info: ServerConnectionInfo];
  disconnect: [info: ServerConnectionInfo, reason: DisconnectReason];
}

/**
 * A Heartline provider: it accepts connections and dispatches each request to a
 * registered service instance by (service, version, group).
 */
export class Server extends EventEmitter<ServerEvents> implements ServerConnectionHooks {
  private readonly registry: ServiceRegistry;
  private readonly connectionSet = new Set<ServerConnection>();
  /** The connections past their handshake (admitted, not closed yet): what `accepts` caps, counted without a walk over every connection. */
  private readonly admitted = new Set<ServerConnection>();
  private readonly net: NetServer;
  private readonly host: string | undefined;
  private readonly port: number;
  private readonly backlog: number;
  private readonly connectionOptions: ServerConnectionOptions;
  /** Drives every connection's heartbeat (idle) clock: one timer for the server; stopped once it closed. */
  private readonly timers = new TimerWheel();
  private readonly closeGracePeriod: number;
  private readonly accepts: number;
  /** Connections in their handshake, under `maxPendingHandshakes`. */
  private readonly handshaking: PendingHandshakes<ServerConnection>;
  private closing: Promise<void> | undefined;
  /** Set by the first `listen()`: a server listens once and, once closed, never again. */
  private listenCalled = false;
  /** Rejects the `listen()` under way, if any: its bind failed, or close() came first. */
  private abortListen: ((err: Error) => void) | undefined;
  /** Registries to publish in, and the publication once listening. */
  private readonly publishing = new Map<ProviderRegistry, { weight: number; metadata: Record<string, unknown>; publication: Publication | undefined }>();
  private readonly advertise: string | undefined;
  private readonly deregisterDelay: number;
  /** The TLS options in force (the last `setSecureContext` merged in); undefined for plain TCP. */
  private tls: ServerTlsOptions | undefined;
  /** The bound address and start time, set once listening. */
  private bound: { address: ServerAddress; startTime: string } | undefined;
  /** The address published in registries, worked out (with its warning) when first needed. */
  private advertised: string | undefined;
  /** What `heartline.Health` reports (`setServingStatus`, close). */
  private readonly servingStatus = new ServingStatusTable((name) => this.registry.hasName(name));
  /** The built-in services, unless `builtinServices: false`. */
  private readonly builtins: BuiltinServices | undefined;
  /** Connections accepted since start. */
  connectionsAccepted = 0;
  /**
   * Responses not sent since start because nobody waited for them any more:
   * the call was cancelled (a Cancel frame), or its deadline passed, before
   * its handler finished.
   */
  responsesDropped = 0;
  /** Connections shed since start because `maxPendingHandshakes` connections were in their handshake (TLS handshakes included): the oldest silent one, or the newcomer. */
  get connectionsShed(): number {
    return this.handshaking.shed;
  }

  constructor(options: ServerOptions = {}) {
    super();
    const o = resolveServerOptions(options);
    this.registry = new ServiceRegistry(o.authorize);
    this.handshaking = new PendingHandshakes(o.maxPendingHandshakes, o.logger);
    this.host = o.host;
    this.port = o.port;
    this.backlog = o.backlog;
    this.closeGracePeriod = o.closeGracePeriod;
    this.accepts = o.accepts;
    this.advertise = o.advertise;
    this.deregisterDelay = o.deregisterDelay;
    this.connectionOptions = {
      maxFrameSize: o.maxFrameSize,
      maxQueuedBytes: o.maxQueuedBytes,
      fragmentSize: o.fragmentSize,
      keepAliveDelay: o.keepAliveDelay,
      exposeStack: o.exposeStack,
      callScope: o.callScope,
      idleTimeout: o.idleTimeout,
      minHeartbeat: o.minHeartbeat,
      callbackTimeout: o.callbackTimeout,
      maxConcurrentCalls: o.maxConcurrentCalls,
      maxCallbacks: o.maxCallbacks,
      handshakeTimeout: o.handshakeTimeout,
      authenticate: o.authenticate,
      closeGracePeriod: o.closeGracePeriod,
      logger: o.logger,
      timers: this.timers,
    };
    this.tls = o.tls;
    this.builtins = o.builtinServices
      ? registerBuiltins(this.registry, { services: () => this.registry.all(), lookup: (n, v, g) => this.registry.lookup(n, v, g), connections: () => this.connections() }, this.servingStatus)
      : undefined;
    // Plain TCP, or TLS: `accept` gets a socket whose TLS handshake (if any) succeeded.
    // Over TLS, a connection in its TLS handshake is in its handshake too: `admit` sheds it before that handshake starts.
    const admit = (tlsHandshakes: number): boolean => this.handshaking.makeRoom(tlsHandshakes, this.net);
    this.net = createListener(o.tls, { handshakeTimeout: o.handshakeTimeout, logger: o.logger, admit }, (socket) => this.accept(socket));
    this.net.on('error', (err) => this.netError(err));
    if (o.registry !== undefined) this.publish(o.registry);
  }

  /**
   * Publishes every registered service in `registry` (an `EtcdRegistry`):
   * at `listen()`, or at once when already listening; services registered
   * later are added. `close()` withdraws first (see `deregisterDelay`).
   */
  publish(registry: ProviderRegistry, options: PublishOptions = {}): this {
    if (this.closing !== undefined) throw new HeartlineError('SERVER_CLOSED', 'this server was closed');
    if (this.publishing.has(registry)) throw new HeartlineError('INVALID_CONFIG', 'this server already publishes in that registry');
    const weight = options.weight ?? 100;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new HeartlineError('INVALID_CONFIG', `publish: weight must be a finite number >= 0, got ${String(weight)}`);
    const metadata = options.metadata ?? {};
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new HeartlineError('INVALID_CONFIG', 'publish: metadata must be a plain object');
    try {
      JSON.stringify(metadata);
    } catch (err) {
      throw new HeartlineError('INVALID_CONFIG', `publish: metadata must be JSON-serializable: ${(err as Error).message}`, { cause: err });
    }
    const entry = { weight, metadata: { ...metadata }, publication: undefined as Publication | undefined };
    this.publishing.set(registry, entry);
    if (this.bound !== undefined) {
      try {
        entry.publication = registry.publish(this.announcement(entry));
      } catch (err) {
        this.publishing.delete(registry); // so that publish() may be called again
        throw err;
      }
    }
    return this;
  }

  /**
   * Exports a service. Either an instance of a `@Provider` class, or a contract
   * and any object implementing it. A service named like a built-in one
   * (`heartline.Reflection`, `heartline.Health`, any version) throws
   * INVALID_CONFIG unless the server was made with `builtinServices: false`.
   */
  register(instance: object, options?: ProviderOptions): this;
  register<T extends object>(contract: Contract<T>, implementation: T, options?: ProviderOptions): this;
  register(a: object, b?: object, c?: ProviderOptions): this {
    if (typeof a === 'function') {
      if (b === undefined) {
        throw new HeartlineError('INVALID_CONFIG', `server.register(${a.name || 'contract'}): pass an instance (server.register(new Impl())) or a contract and its implementation`);
      }
      if (this.builtins !== undefined) refuseBuiltinName(serviceOf(a as Contract, 'server.register').name);
      this.registry.register(a as Contract, b, c);
    } else {
      const record = providerOf(a, 'server.register');
      if (this.builtins !== undefined) refuseBuiltinName(serviceOf(record.contract, 'server.register').name);
      this.registry.register(record.contract, a, { ...record.options, ...(b as ProviderOptions | undefined) });
    }
    for (const entry of this.publishing.values()) entry.publication?.update(this.announcement(entry));
    this.servingStatus.changed(); // a watch of this name goes from UNKNOWN to SERVING
    return this;
  }

  /**
   * Sets what `heartline.Health` answers for `service` (a registered
   * service's name, every version and group of it), or for the whole
   * provider with `''`: `'NOT_SERVING'` to tell consumers and load
   * balancers to stay away (for example, it lost its database), `'SERVING'`
   * to come back. The whole provider's NOT_SERVING also applies to every
   * service. Watchers are pushed the change. Once `close()` is called,
   * everything answers NOT_SERVING whatever is set. A status other than
   * these two, or a name no registered service has: INVALID_CONFIG.
   */
  setServingStatus(service: string, status: SettableStatus): void {
    this.servingStatus.set(service, status);
  }

  /** @internal Live `heartline.Health#watch` subscriptions (0 without the built-ins). */
  get healthWatchCount(): number {
    return this.builtins?.health.watchers.size ?? 0;
  }

  /**
   * Adds a server-wide interceptor: every call to every service (registered
   * before or after) runs through it, after the server-wide interceptors
   * added before it and before the service's own (`interceptors` of
   * `register`/`@Provider`). All run before `executes` and the callback cap
   * are taken, and inside the call's scope (`currentCall()`). See
   * `ServerInterceptor`. Not a function: INVALID_CONFIG.
   */
  use(interceptor: ServerInterceptor): this {
    this.registry.use(interceptor);
    return this;
  }

  /**
   * Starts listening; resolves with the bound address. A server listens once:
   * `listen()` after `close()` rejects with SERVER_CLOSED, and while listening
   * (or starting to) with INVALID_CONFIG. A bind that fails (address in use,
   * not available, no permission) rejects with LISTEN_FAILED, whose message
   * names the address and whose `cause` is Node's error; nothing is logged,
   * and `listen()` may be called again.
   */
  listen(): Promise<ServerAddress> {
    return this.bind().then(async (address) => {
      await this.announce(address);
      return address;
    });
  }

  /**
   * Publishes in every registry once bound. Waits for the first answer of
   * each; a registry that is down is logged and retried in the background
   * (the provider serves meanwhile).
   */
  private async announce(bound: ServerAddress): Promise<void> {
    this.bound = { address: bound, startTime: new Date().toISOString() };
    if (this.closing !== undefined) return;
    await Promise.all(
      [...this.publishing].map(async ([registry, entry]) => {
        try {
          entry.publication = registry.publish(this.announcement(entry));
        } catch (err) {
          // For example a registry closed meanwhile: the server listens and serves; logged, not thrown (it is bound).
          this.connectionOptions.logger.error({ advertise: this.advertised, err: logErr(err, 'UNAVAILABLE') }, `registry: cannot publish ${this.advertised}: ${(err as Error).message}`);
          return;
        }
        await entry.publication.first.catch((err: Error) =>
          this.connectionOptions.logger.warn({ advertise: this.advertised, err: logErr(err, 'UNAVAILABLE') }, `registry: publishing ${this.advertised} failed (${err.message}); retrying in the background`),
        );
      }),
    );
  }

  private announcement(entry: { weight: number; metadata: Record<string, unknown> }): Announcement {
    const bound = this.bound!;
    this.advertised ??= advertisedAddress(this.advertise, bound.address, this.connectionOptions.logger);
    return {
      address: this.advertised,
      weight: entry.weight,
      pid: process.pid,
      startTime: bound.startTime,
      metadata: entry.metadata,
      // The built-in services are on every provider: a registry lists what is worth choosing a provider for.
      services: this.registry.all().filter((s) => this.builtins?.exported.has(s) !== true).map((s) => ({ service: s.definition.name, version: s.version, group: s.group, methods: [...s.methods.keys()] })),
    };
  }

  private bind(): Promise<ServerAddress> {
    if (this.closing !== undefined) return Promise.reject(new HeartlineError('SERVER_CLOSED', 'this server was closed; create a new Server to listen again'));
    if (this.listenCalled) return Promise.reject(new HeartlineError('INVALID_CONFIG', 'listen() was already called on this server'));
    this.listenCalled = true;
    return new Promise((resolve, reject) => {
      this.abortListen = (err) => {
        this.abortListen = undefined;
        reject(err);
      };
      this.net.listen({ port: this.port, host: this.host, backlog: this.backlog }, () => {
        this.abortListen = undefined;
        if (this.closing !== undefined) {
          this.net.close(); // close() came while the bind was under way: do not stay bound
          return;
        }
        resolve(this.address!);
      });
    });
  }

  /** An error of the listening socket: the bind of `listen()` under way failed, or (rarely) an accept did. */
  private netError(err: NodeJS.ErrnoException): void {
    if (this.abortListen !== undefined) {
      this.listenCalled = false; // it may be tried again
      this.abortListen(listenFailed(err, this.host, this.port));
      return;
    }
    this.connectionOptions.logger.error({ err: logErr(err, 'LISTEN_FAILED') }, `server error: ${err.message}`);
  }

  /** The bound address, or undefined before `listen()`. */
  get address(): ServerAddress | undefined {
    const info = this.net.address() as AddressInfo | null;
    return info === null ? undefined : { host: info.address, port: info.port };
  }

  /**
   * Replaces the TLS certificates without a restart: connections accepted from
   * now on use the new ones; live connections keep theirs. `options` (Node's
   * secure-context options: `key`, `cert`, `ca`, ...) is merged into the current
   * `tls` option, so a field left out keeps its value. Checked like `tls`
   * (INVALID_CONFIG, and nothing changes); a server made without `tls` throws
   * INVALID_CONFIG.
   */
  setSecureContext(options: SecureContextOptions): void {
    this.tls = replaceSecureContext(this.net, this.tls, options);
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
   * is left. Idempotent: every call returns the same promise, and a closed
   * server never listens again.
   */
  close(): Promise<void> {
    this.abortListen?.(new HeartlineError('SERVER_CLOSED', 'this server was closed while it started listening'));
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
    // Health answers NOT_SERVING from now on; watchers are pushed it before any drain frame is written.
    this.servingStatus.close();
    // Withdraw from registries first and give consumers deregisterDelay to stop choosing this provider before it drains.
    const publications = [...this.publishing.values()].flatMap((e) => (e.publication === undefined ? [] : [e.publication]));
    if (publications.length > 0) {
      await Promise.all(publications.map((p) => p.withdraw()));
      await new Promise((resolve) => setTimeout(resolve, this.deregisterDelay));
    }
    const stopped = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const conn of this.connectionSet) conn.drain(this.closeGracePeriod);
    const allClosed = Promise.all([...this.connectionSet].map((c) => new Promise<void>((resolve) => c.onceClosed(resolve))));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeGracePeriod);
    });
    await Promise.race([allClosed, grace]);
    clearTimeout(timer);
    // The grace period is over: handlers still running see their signal fire before their sockets go.
    if (this.connectionSet.size > 0) {
      const closed = new HeartlineError('SERVER_CLOSED', 'the server closed: its grace period ended');
      for (const conn of this.connectionSet) conn.abortCalls(closed);
    }
    for (const conn of this.connectionSet) conn.destroy('drain');
    await allClosed;
    this.timers.stop();
    await stopped;
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.connectionsAccepted++;
    // This socket's own TLS handshake (if any) is done: it is no longer among those under way.
    if (!this.handshaking.makeRoom(tlsHandshakesUnderWay(this.net), this.net)) {
      socket.destroy();
      return;
    }
    const conn = new ServerConnection(socket, this.registry, this.connectionOptions, this);
    this.handshaking.add(conn);
    this.connectionSet.add(conn);
  }

  // ServerConnectionHooks
  admit(conn: ServerConnection): HeartlineError | undefined {
    if (this.closing !== undefined) return new HeartlineError('UNAVAILABLE', 'provider is shutting down');
    if (this.admitted.size >= this.accepts) {
      if (channels.serverRefuse.hasSubscribers) channels.serverRefuse.publish({ server: this, limit: 'accepts', peer: conn.peer, call: undefined });
      return new HeartlineError('LIMIT_EXCEEDED', `provider accepts at most ${this.accepts} connections`);
    }
    return undefined;
  }

  onReady(conn: ServerConnection): void {
    this.handshaking.delete(conn);
    // Not one that closed while its answer was being sent (onClose came first): it would be counted for ever.
    if (this.connectionSet.has(conn)) this.admitted.add(conn);
    const info = describe(conn);
    if (channels.serverConnect.hasSubscribers) channels.serverConnect.publish({ connection: info, server: this });
    emitGuarded(this, conn.log, 'connect', info);
  }

  onClose(conn: ServerConnection, reason: DisconnectReason): void {
    this.handshaking.delete(conn);
    this.connectionSet.delete(conn);
    this.admitted.delete(conn);
    const info = describe(conn);
    if (channels.serverDisconnect.hasSubscribers) channels.serverDisconnect.publish({ connection: info, server: this, reason });
    emitGuarded(this, conn.log, 'disconnect', info, reason);
  }

  responseDropped(): void {
    this.responsesDropped++;
  }
}
