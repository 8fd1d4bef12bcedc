import { checkLogger, checkNumber, invalidConfig, type NumberRule } from '../errors/invalid-config.js';
import { DEFAULT_FRAGMENT_SIZE, DEFAULT_MAX_FRAME_SIZE, HEARTBEAT_FLOOR, MAX_TIMER_MS, MIN_FRAGMENT_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { guardedLogger } from '../transport/log-fields.js';
import { resolveServerTls, type ServerTlsOptions } from '../transport/tls-options.js';
import { splitHostPort } from './advertise.js';
import type { Authenticate } from './authentication.js';
import type { Authorize } from './authorization.js';
import { isProviderRegistry, type ProviderRegistry } from './publisher.js';

/** Options of `new Server(options)`. Every time is in ms. */
export interface ServerOptions {
  /** Interface to listen on. Default: every interface (Node's default). */
  host?: string;
  /** TCP port, an integer from 0 to 65535; 0 picks a free one. Default 20880 (Dubbo's). */
  port?: number;
  /** The listen queue (SO_BACKLOG): connections the kernel holds until they are accepted, an integer >= 1 (the OS may cap it, Linux at somaxconn). Default 511 (Node's). */
  backlog?: number;
  /** Close a connection that sent nothing (not even a ping) for this long. Default 60000. 0 never does; otherwise at least 300 (3 × HEARTBEAT_FLOOR). */
  idleTimeout?: number;
  /** Shortest ping interval granted to consumers (they may propose less). Default 1000. */
  minHeartbeat?: number;
  /** Cap on open connections; one over it is refused in the handshake with LIMIT_EXCEEDED. Default none (Infinity). */
  accepts?: number;
  /** Timeout of pushes to consumer callbacks. Default 3000. 0 means none. */
  callbackTimeout?: number;
  /** Largest frame (16-byte header + body) accepted from a consumer, in bytes, from 1024 to 2^32 - 1. Default 8 MiB. */
  maxFrameSize?: number;
  /** Bound on response bytes waiting to be written per connection, in bytes. Default 4 × maxFrameSize. */
  maxQueuedBytes?: number;
  /**
   * Bodies larger than this many bytes are sent as fragments of this size,
   * interleaved with other frames, so small calls never wait behind a large
   * body (protocol.md 4.9). Offered in the handshake; a peer without fragments
   * gets whole frames. 0: fragments are neither offered nor accepted. An
   * integer, 0 or >= 1024. Default 65536 (64 KiB).
   */
  fragmentSize?: number;
  /** Initial delay of TCP keepalive probes. Default 60000. */
  keepAliveDelay?: number;
  /** Send handlers' stack traces to consumers. Default false: only code, name, message and details travel. */
  exposeStack?: boolean;
  /**
   * Run each call's interceptors and handler inside the call's scope
   * (AsyncLocalStorage), so that `currentCall()` returns the call there and
   * the consumer calls they make inherit its deadline and signal. Default
   * true.
   *
   * false: `currentCall()` returns undefined in handlers and interceptors
   * (interceptors still get the call as their argument, and the call still
   * has its deadline and signal), and their consumer calls take only their
   * own timeout and signal. The reason to turn it off is CPU: on Node 20 an
   * AsyncLocalStorage in use adds a promise hook to every promise in the
   * process, about 1 µs of CPU per call (about 10%) in `npm run bench:cpu`
   * (client and server in one process). The hook stays on once any scope was
   * entered, so false saves it only while nothing else in the process uses
   * an AsyncLocalStorage (another Server with `callScope` true, an APM agent).
   */
  callScope?: boolean;
  /** How long `close()` lets calls in flight finish after sending drain. Default 10000. */
  closeGracePeriod?: number;
  /** Calls executing at once per connection; a call over it is answered LIMIT_EXCEEDED (retry-safe) before any user code. Default 10000. */
  maxConcurrentCalls?: number;
  /** Live consumer callbacks per connection; a call that would add one more is answered LIMIT_EXCEEDED before any user code. Default 1000. */
  maxCallbacks?: number;
  /** A connection that has not completed its handshake by then is closed ('handshake-timeout'), whatever `idleTimeout` is. Default 10000. */
  handshakeTimeout?: number;
  /** Where misbehaving consumers (`warn`), handler failures (`error`) and other events that cannot be thrown are reported: `warn(fields, msg)`/`error(fields, msg)`, pino-compatible (a pino logger fits; README "Logs"). Default: `consoleLogger` (warn and error on stderr, one line each). */
  logger?: Logger;
  /** A registry (`EtcdRegistry`) where `listen()` publishes every registered service (as `server.publish(registry)`). Default none. */
  registry?: ProviderRegistry;
  /** The address published in a registry: `host` or `host:port`. Default: the bound host and port; on a wildcard bind the first non-internal interface, with a warning. */
  advertise?: string;
  /** How long `close()` waits between withdrawing from registries and sending drain, so consumers stop choosing it first. Default 1000; only when published. */
  deregisterDelay?: number;
  /**
   * Serve over TLS. Node's secure-context options: `key` and `cert` (or
   * `pfx`) are required; `ca` verifies consumers' certificates; any other field
   * of `tls.SecureContextOptions`. Mutual TLS: `requestCert` (default false)
   * asks every consumer for a certificate, and `rejectUnauthorized` (default
   * true) refuses one without a valid certificate in the TLS handshake. The
   * TLS handshake must finish within `handshakeTimeout`. Certificates can be
   * replaced with `server.setSecureContext()`. Default none: plain TCP.
   */
  tls?: ServerTlsOptions;
  /**
   * Authenticates each consumer once, in its handshake:
   * `(hello, peer) => ({ principal, expiresAt? })`, sync or async. `hello`
   * holds the consumer's `credentials` (the client's `credentials` option)
   * and `agent`; `peer` its `address` and, over TLS, `tls` (under mutual TLS
   * `tls.subject` is its certificate's subject). Returning `{ principal }`
   * accepts: every call on the connection carries the principal
   * (`currentCall().principal`), and `expiresAt` (epoch ms) drains the
   * connection when the credentials expire. Throwing, rejecting or returning
   * anything else refuses the handshake with UNAUTHENTICATED and closes the
   * connection: no call runs on it. `handshakeTimeout` covers its time. See
   * `sharedSecret()` for a ready-made one. Default none: every consumer is
   * accepted, anonymous (principal undefined).
   */
  authenticate?: Authenticate;
  /**
   * Decides, per call to any service, whether the caller may make it; runs
   * before the service's own `authorize` (both must allow), before any
   * interceptor, limit or handler. See `ProviderOptions.authorize`. Default
   * none: every call is allowed.
   */
  authorize?: Authorize;
  /**
   * Connections that may be in their handshake at once (accepted, Heartline
   * handshake not answered yet: over TLS their TLS handshake included, and
   * `authenticate`). One accepted over it closes, unanswered, the oldest that
   * has not sent its handshake request (else the oldest TLS handshake, else
   * itself): a flood of idle connections can neither pile up before
   * `handshakeTimeout` ends them nor, standing, lock consumers out. A silent
   * connection younger than 1 s is not shed: while all are, a newcomer is let
   * in over the cap (a burst of consumers connecting at once, whose
   * handshakes are only unread yet), up to 16 times it. An integer >= 1.
   * Default 128.
   */
  maxPendingHandshakes?: number;
  /**
   * Serve the built-in services `heartline.Reflection` (what this provider
   * serves, its live connections) and `heartline.Health` (its serving
   * status, `server.setServingStatus`), protocol.md 10. They are never
   * published in a registry, and a call to another service pays nothing for
   * them. false registers neither (calls to them get SERVICE_NOT_FOUND) and
   * frees their names for services of your own. Default true.
   */
  builtinServices?: boolean;
}

/** Every server option with its default applied, checked. */
export interface ResolvedServerOptions {
  host: string | undefined;
  port: number;
  backlog: number;
  idleTimeout: number;
  minHeartbeat: number;
  accepts: number;
  callbackTimeout: number;
  maxFrameSize: number;
  maxQueuedBytes: number;
  fragmentSize: number;
  keepAliveDelay: number;
  exposeStack: boolean;
  callScope: boolean;
  closeGracePeriod: number;
  maxConcurrentCalls: number;
  maxCallbacks: number;
  handshakeTimeout: number;
  logger: Logger;
  registry: ProviderRegistry | undefined;
  advertise: string | undefined;
  deregisterDelay: number;
  /** Checked and frozen, with `requestCert` and `rejectUnauthorized` filled in; undefined for plain TCP. */
  tls: ServerTlsOptions | undefined;
  authenticate: Authenticate | undefined;
  authorize: Authorize | undefined;
  maxPendingHandshakes: number;
  builtinServices: boolean;
}

export const SERVER_DEFAULTS = {
  port: 20880,
  backlog: 511,
  idleTimeout: 60_000,
  minHeartbeat: 1000,
  accepts: Infinity,
  callbackTimeout: 3000,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  keepAliveDelay: 60_000,
  exposeStack: false,
  callScope: true,
  closeGracePeriod: 10_000,
  maxConcurrentCalls: 10_000,
  maxCallbacks: 1000,
  handshakeTimeout: 10_000,
  deregisterDelay: 1000,
  maxPendingHandshakes: 128,
  builtinServices: true,
} as const;

/** Smallest non-zero `idleTimeout`: the consumer must be able to ping three times within it. */
export const MIN_IDLE_TIMEOUT = 3 * HEARTBEAT_FLOOR;

/** A number `rule` accepts, `fallback` when undefined; with `allowInfinity`, Infinity (meaning "none") too. */
function numberOption(name: string, value: unknown, fallback: number, rule: NumberRule & { allowInfinity?: boolean }): number {
  if (rule.allowInfinity === true && value === Infinity) return Infinity;
  return checkNumber(name, value, rule) ?? fallback;
}

/** A time in ms: finite, >= min, and no longer than a Node timer can wait. */
function msOption(name: string, value: unknown, fallback: number, min = 0): number {
  return numberOption(name, value, fallback, { min, max: MAX_TIMER_MS });
}

/**
 * Checks every server option (type, range, NaN, Infinity) and applies the
 * defaults. A bad option throws INVALID_CONFIG naming it. Never mutates `options`.
 */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') throw invalidConfig('server options', 'an object', options);
  const o = options as Record<keyof ServerOptions, unknown>;

  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) throw invalidConfig('host', 'a non-empty string', o.host);
  if (o.exposeStack !== undefined && typeof o.exposeStack !== 'boolean') throw invalidConfig('exposeStack', 'a boolean', o.exposeStack);
  if (o.callScope !== undefined && typeof o.callScope !== 'boolean') throw invalidConfig('callScope', 'a boolean', o.callScope);
  if (o.builtinServices !== undefined && typeof o.builtinServices !== 'boolean') throw invalidConfig('builtinServices', 'a boolean', o.builtinServices);
  const userLogger = checkLogger<Logger>('logger', o.logger);
  // Guarded: a logger that throws must not throw out of a socket callback (a shed connection, a TLS failure).
  const logger = userLogger === undefined ? consoleLogger : guardedLogger(userLogger);

  const idleTimeout = msOption('idleTimeout', o.idleTimeout, SERVER_DEFAULTS.idleTimeout);
  if (idleTimeout !== 0 && idleTimeout < MIN_IDLE_TIMEOUT) throw invalidConfig('idleTimeout', `0 (never) or >= ${MIN_IDLE_TIMEOUT} ms`, idleTimeout);

  if (o.registry !== undefined && !isProviderRegistry(o.registry)) throw invalidConfig('registry', 'a registry (e.g. an EtcdRegistry)', o.registry);
  if (o.advertise !== undefined) {
    const split = typeof o.advertise === 'string' ? splitHostPort(o.advertise) : undefined;
    if (split === undefined || split.host === '' || (split.port !== undefined && !(Number.isInteger(split.port) && split.port >= 1 && split.port <= 65535))) {
      throw invalidConfig('advertise', "'host' or 'host:port' with a port from 1 to 65535", o.advertise);
    }
  }

  const maxFrameSize = numberOption('maxFrameSize', o.maxFrameSize, SERVER_DEFAULTS.maxFrameSize, { min: MIN_MAX_FRAME_SIZE, max: 0xffffffff, integer: true });
  return {
    host: o.host as string | undefined,
    port: numberOption('port', o.port, SERVER_DEFAULTS.port, { min: 0, max: 65535, integer: true }),
    // libuv takes an int.
    backlog: numberOption('backlog', o.backlog, SERVER_DEFAULTS.backlog, { min: 1, max: 0x7fffffff, integer: true }),
    idleTimeout,
    minHeartbeat: msOption('minHeartbeat', o.minHeartbeat, SERVER_DEFAULTS.minHeartbeat),
    accepts: numberOption('accepts', o.accepts, SERVER_DEFAULTS.accepts, { min: 1, integer: true, allowInfinity: true }),
    callbackTimeout: msOption('callbackTimeout', o.callbackTimeout, SERVER_DEFAULTS.callbackTimeout),
    maxFrameSize,
    maxQueuedBytes: numberOption('maxQueuedBytes', o.maxQueuedBytes, 4 * maxFrameSize, { min: 1, integer: true }),
    fragmentSize: fragmentSizeOption(o.fragmentSize),
    keepAliveDelay: msOption('keepAliveDelay', o.keepAliveDelay, SERVER_DEFAULTS.keepAliveDelay),
    exposeStack: (o.exposeStack as boolean | undefined) ?? SERVER_DEFAULTS.exposeStack,
    callScope: (o.callScope as boolean | undefined) ?? SERVER_DEFAULTS.callScope,
    closeGracePeriod: msOption('closeGracePeriod', o.closeGracePeriod, SERVER_DEFAULTS.closeGracePeriod),
    maxConcurrentCalls: numberOption('maxConcurrentCalls', o.maxConcurrentCalls, SERVER_DEFAULTS.maxConcurrentCalls, { min: 1, integer: true }),
    maxCallbacks: numberOption('maxCallbacks', o.maxCallbacks, SERVER_DEFAULTS.maxCallbacks, { min: 1, integer: true }),
    handshakeTimeout: msOption('handshakeTimeout', o.handshakeTimeout, SERVER_DEFAULTS.handshakeTimeout, 1),
    logger: logger as Logger,
    registry: o.registry as ProviderRegistry | undefined,
    advertise: o.advertise as string | undefined,
    deregisterDelay: msOption('deregisterDelay', o.deregisterDelay, SERVER_DEFAULTS.deregisterDelay),
    tls: resolveServerTls('tls', o.tls),
    authenticate: hook('authenticate', o.authenticate, '(hello, peer) => { principal }') as Authenticate | undefined,
    authorize: hook('authorize', o.authorize, '(call) => boolean') as Authorize | undefined,
    maxPendingHandshakes: numberOption('maxPendingHandshakes', o.maxPendingHandshakes, SERVER_DEFAULTS.maxPendingHandshakes, { min: 1, integer: true }),
    builtinServices: (o.builtinServices as boolean | undefined) ?? SERVER_DEFAULTS.builtinServices,
  };
}

/** An optional user function: undefined or a function, else INVALID_CONFIG naming its shape. */
function hook(name: string, value: unknown, shape: string): Function | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidConfig(name, `a function ${shape}`, value);
  return value as Function | undefined;
}

/** `fragmentSize`: an integer, 0 (no fragments) or >= MIN_FRAGMENT_SIZE; DEFAULT_FRAGMENT_SIZE when undefined. */
function fragmentSizeOption(value: unknown): number {
  const size = checkNumber('fragmentSize', value, { min: 0, max: 0xffffffff, integer: true }) ?? DEFAULT_FRAGMENT_SIZE;
  if (size !== 0 && size < MIN_FRAGMENT_SIZE) throw invalidConfig('fragmentSize', `an integer, 0 or >= ${MIN_FRAGMENT_SIZE}`, value);
  return size;
}
