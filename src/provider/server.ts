import { EventEmitter } from 'node:events';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { serviceOf, type Contract } from '../contract/service-definition.js';
import { channels } from '../context/channels.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ConnectionState, type DisconnectReason } from '../exchange/connection-state.js';
import { now } from '../transport/clock.js';
import { emitGuarded } from '../transport/guarded.js';
import { providerOf, type ProviderOptions } from './provider-options.js';
import type { ServerInterceptor } from './server-interceptor.js';
import { createListener, evictOldestTlsHandshake, replaceSecureContext, tlsHandshakesUnderWay, type PeerTls } from '../transport/secure-socket.js';
import type { ServerTlsOptions } from '../transport/tls-options.js';
import { logErr } from '../transport/log-fields.js';
import { ServerConnection, type ServerConnectionHooks, type ServerConnectionOptions } from './server-connection.js';
import { resolveServerOptions, type ServerOptions } from './server-options.js';
import { ServiceRegistry } from './service-registry.js';
import { advertisedAddress } from './advertise.js';
import { refuseBuiltinName, registerBuiltins, type BuiltinServices } from './builtin-services.js';
import { ServingStatusTable, type SettableStatus } from './serving-status.js';
import type { Announcement, Publication, ProviderRegistry, PublishOptions } from './publisher.js';

export type { ServerOptions } from './server-options.js';

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
  /** Bytes read from and written to the socket, frame headers included. */
  bytesIn: number;
  bytesOut: number;
  /** Calls answered (or, one-way, finished) on this connection, refusals included. */
  callsDone: number;
  /**
   * The last error a call on this connection was answered with (as its
   * caller hears it), or why the connection failed (protocol error, socket
   * error, idle or handshake timeout, refusal), whichever came last; absent
   * when none. Code and message only (never details, stack or arguments).
   */
  lastError?: { code: string; message: string };
  /** Over TLS: the negotiated version, and the consumer's certificate (`subject`, `authorized`) under mutual TLS; undefined over plain TCP. */
  tls: PeerTls | undefined;
  /** True when the server's `authenticate` accepted this consumer (its principal is not listed: it may be sensitive); false without `authenticate`, or before it answered. */
  authenticated: boolean;
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
  private readonly net: NetServer;
  private readonly host: string | undefined;
  private readonly port: number;
  private readonly backlog: number;
  private readonly connectionOptions: ServerConnectionOptions;
  private readonly closeGracePeriod: number;
  private readonly accepts: number;
  private readonly maxPendingHandshakes: number;
  /** Connections accepted whose handshake has not completed (nor failed) yet, oldest first. */
  private readonly handshaking = new Set<ServerConnection>();
  /** When a connection over `maxPendingHandshakes` was last reported (clock ms): one warning per 10 s at most. */
  private shedReportedAt = -Infinity;
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
  connectionsShed = 0;

  constructor(options: ServerOptions = {}) {
    super();
    const o = resolveServerOptions(options);
    this.registry = new ServiceRegistry(o.authorize);
    this.maxPendingHandshakes = o.maxPendingHandshakes;
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
    };
    this.tls = o.tls;
    this.builtins = o.builtinServices
      ? registerBuiltins(this.registry, { services: () => this.registry.all(), lookup: (n, v, g) => this.registry.lookup(n, v, g), connections: () => this.connections() }, this.servingStatus)
      : undefined;
    // Plain TCP, or TLS: `accept` gets a socket whose TLS handshake (if any) succeeded.
    // Over TLS, a connection in its TLS handshake is in its handshake too: `admit` sheds it before that handshake starts.
    const admit = (tlsHandshakes: number): boolean => this.makeRoom(tlsHandshakes);
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
    await stopped;
  }

  private accept(socket: Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.connectionsAccepted++;
    // This socket's own TLS handshake (if any) is done: it is no longer among those under way.
    if (!this.makeRoom(tlsHandshakesUnderWay(this.net))) {
      socket.destroy();
      return;
    }
    const conn = new ServerConnection(socket, this.registry, this.connectionOptions, this);
    this.handshaking.add(conn);
    this.connectionSet.add(conn);
  }

  /**
   * Room for one more connection in its handshake, under `maxPendingHandshakes`
   * (Heartline handshakes, `authenticate` included, and `tlsHandshakes` TLS
   * ones). At the cap, one is shed, unanswered, counted and reported: the
   * oldest that has not sent its handshake request (silent or dripping) or
   * was refused and is held open by its consumer, else
   * the oldest TLS handshake, else the newcomer (false). Shedding the oldest
   * silent one rather than the newcomer means a standing flood of idle
   * connections, renewed every `handshakeTimeout`, cannot lock consumers
   * out: it would have to outpace their handshakes.
   */
  private makeRoom(tlsHandshakes: number): boolean {
    if (this.handshaking.size + tlsHandshakes < this.maxPendingHandshakes) return true;
    this.connectionsShed++;
    const t = now();
    if (t - this.shedReportedAt >= SHED_REPORT_INTERVAL) {
      this.shedReportedAt = t;
      this.connectionOptions.logger.warn({ shed: this.connectionsShed }, `${this.maxPendingHandshakes} connections are in their handshake (maxPendingHandshakes): shedding the oldest silent ones, else new ones (${this.connectionsShed} so far)`);
    }
    for (const conn of this.handshaking) {
      if (conn.sheddable) {
        this.handshaking.delete(conn); // its place is the newcomer's now (its close comes later)
        conn.shed();
        return true;
      }
    }
    return tlsHandshakes > 0 && evictOldestTlsHandshake(this.net);
  }

  // ServerConnectionHooks
  admit(conn: ServerConnection): HeartlineError | undefined {
    if (this.closing !== undefined) return new HeartlineError('UNAVAILABLE', 'provider is shutting down');
    let ready = 0;
    for (const c of this.connectionSet) if (c !== conn && !c.handshaking && c.state !== ConnectionState.Closed) ready++;
    if (ready >= this.accepts) {
      if (channels.serverRefuse.hasSubscribers) channels.serverRefuse.publish({ server: this, limit: 'accepts', peer: conn.peer, call: undefined });
      return new HeartlineError('LIMIT_EXCEEDED', `provider accepts at most ${this.accepts} connections`);
    }
    return undefined;
  }

  onReady(conn: ServerConnection): void {
    this.handshaking.delete(conn);
    const info = describe(conn);
    if (channels.serverConnect.hasSubscribers) channels.serverConnect.publish({ connection: info, server: this });
    emitGuarded(this, conn.log, 'connect', info);
  }

  onClose(conn: ServerConnection, reason: DisconnectReason): void {
    this.handshaking.delete(conn);
    this.connectionSet.delete(conn);
    const info = describe(conn);
    if (channels.serverDisconnect.hasSubscribers) channels.serverDisconnect.publish({ connection: info, server: this, reason });
    emitGuarded(this, conn.log, 'disconnect', info, reason);
  }

  responseDropped(): void {
    this.responsesDropped++;
  }
}

/** LISTEN_FAILED for a failed bind: names the address, says why in words, and how to get out of it. */
function listenFailed(err: NodeJS.ErrnoException & { address?: string }, host: string | undefined, port: number): HeartlineError {
  const h = host ?? err.address ?? '::';
  const address = h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
  let why: string;
  switch (err.code) {
    case 'EADDRINUSE':
      why = 'the address is already in use (EADDRINUSE): another process, or another Server here, listens on it. Stop it, choose another port, or pass port: 0 to take a free one';
      break;
    case 'EADDRNOTAVAIL':
      why = 'no interface of this machine has this address (EADDRNOTAVAIL): check host';
      break;
    case 'EACCES':
      why = 'permission denied (EACCES): ports below 1024 need privileges';
      break;
    default:
      why = err.message;
  }
  return new HeartlineError('LISTEN_FAILED', `cannot listen on ${address}: ${why}`, { cause: err });
}

/** Shortest time between two warnings about connections shed by `maxPendingHandshakes`, in ms. */
const SHED_REPORT_INTERVAL = 10_000;

function describe(c: ServerConnection): ServerConnectionInfo {
  const t = now();
  const info: ServerConnectionInfo = {
    id: c.id,
    peer: c.peer,
    state: c.state,
    age: t - c.createdAt,
    lastRead: t - c.lastReadAt(),
    lastWrite: t - c.lastWriteAt(),
    heartbeat: c.heartbeatInterval,
    inFlight: c.inFlight,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    callsDone: c.callsDone,
    tls: c.tls,
    authenticated: c.authenticated,
  };
  if (c.lastErrorCode !== undefined) info.lastError = { code: c.lastErrorCode, message: c.lastErrorMessage };
  return info;
}
