import { validateMethodOptions, type MethodOptions } from '../contract/method-options.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { checkBoolean, checkLogger, checkNumber, checkObject, invalidConfig, type NumberRule } from '../errors/invalid-config.js';
import { DEFAULT_FRAGMENT_SIZE, DEFAULT_MAX_FRAME_SIZE, MAX_CREDENTIALS_BYTES, MAX_TIMER_MS, MIN_FRAGMENT_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import type { Credentials } from '../exchange/client-connection.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { guardedLogger } from '../transport/log-fields.js';
import { resolveClientTls, type ClientTlsOptions, type ResolvedClientTls } from '../transport/tls-options.js';
import { parseAddress } from './address.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { isDirectory, type ProviderEntry } from './directory.js';
import type { LoadBalanceName } from './load-balance/index.js';
import type { ClientInterceptor } from './client-interceptor.js';
import type { ClusterMode, ReferenceOptions, StackTraceMode } from './reference.js';
import { isConsumerRegistry, type ConsumerRegistry } from './registry.js';

/**
 * The consumer's one options module: every option of `new Client(options)`,
 * of `client.refer()` / `@Consumer` and of a method is checked here for type,
 * range, NaN and Infinity. A bad option fails with INVALID_CONFIG naming it
 * (`reconnect.initialDelay must be a finite number >= 0 ...`). An option that
 * is `undefined` means its default. Options objects are never mutated: the
 * functions here return new, frozen objects.
 */

/** Options of `new Client(options)`. Every time is in ms. */
export interface ClientOptions {
  /** Providers (`host:port` or `{ address, weight }`) used by every reference that names none. Default none. */
  providers?: readonly ProviderEntry[];
  /** A registry (`EtcdRegistry`) where references that name no providers find them, by service, version and group. Default none; not with `providers`. */
  registry?: ConsumerRegistry;
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
  /** Ping interval proposed to providers (an integer); the provider's answer is used. Default 15000. 0 proposes none. */
  heartbeat?: number;
  /** Heartbeat intervals without a single byte from the provider before it is declared dead (an integer). Default 3. */
  heartbeatMisses?: number;
  /** Reconnect backoff. Defaults: initialDelay 500, factor 2, maxDelay 30000, jitter 0.2; an undefined field takes its default. */
  reconnect?: BackoffOptions;
  /** Bound on calls pending across the client; past it calls fail at once with LIMIT_EXCEEDED. Default 100000. */
  maxPendingCalls?: number;
  /** Live callback functions per connection; a call that would register one more fails with LIMIT_EXCEEDED. Default 1000. */
  maxCallbacks?: number;
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
  /**
   * How a failed call's stack shows its caller. `async` (default): re-captured
   * on failure, naming every awaiting caller, free on success. `eager`:
   * captured at each call (also shows callers that do not await; costs a few
   * µs per call). `off`: Heartline's own frames only.
   */
  stackTraces?: StackTraceMode;
  /**
   * Keep the process alive while a connection is open, even with nothing to do
   * on it. Default false: a socket holds the process only while a call is
   * pending or waiting for it, or a callback is registered on it, so a script
   * ends when its work ends without `client.close()`.
   */
  keepProcessAlive?: boolean;
  /** Random source in [0, 1) for load balancing and backoff jitter (seed it in tests). Default Math.random. */
  random?: () => number;
  /** Where protocol errors, dead providers and failsafe failures are reported: `warn(fields, msg)`/`error(fields, msg)`, pino-compatible (a pino logger fits; README "Logs"). Default: `consoleLogger` (warn and error on stderr, one line each). */
  logger?: Logger;
  /**
   * Connect to every provider over TLS. Node's secure-context options (`ca`,
   * and `key` + `cert` for mutual TLS; any other field of
   * `tls.SecureContextOptions`), plus `servername` (default: the provider's
   * host when it is a name), `rejectUnauthorized` (default true) and
   * `checkServerIdentity` (default Node's). `{}` trusts Node's bundled CAs.
   * Client-wide: every connection of this client uses it (connections are
   * shared by every reference to the same address); use another Client for
   * providers that need other settings. Default none: plain TCP.
   */
  tls?: ClientTlsOptions;
  /**
   * What this client proves its identity with, sent in the handshake of
   * every connection (the provider's `authenticate` reads it): a string (a
   * token) of at most 8 KiB of UTF-8, or a function returning one (or a
   * promise of one), called for each new connection, so a refreshed token is
   * used when a connection is replaced (after its credentials expired, or a
   * reconnect). A function that throws, rejects or gives anything else fails
   * that connection, and the calls waiting for it, with UNAUTHENTICATED (its
   * error as `cause`); `connectTimeout` bounds one that never settles.
   * Never logged nor listed. Send it over TLS: on plain TCP it travels in
   * clear. Client-wide. Default none.
   */
  credentials?: Credentials;
}

/** Client options after validation, every default filled in. */
export interface ResolvedClientOptions {
  readonly providers: readonly ProviderEntry[] | undefined;
  readonly registry: ConsumerRegistry | undefined;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly connections: number;
  readonly eager: boolean;
  readonly idleTimeout: number;
  readonly heartbeat: number;
  readonly heartbeatMisses: number;
  readonly reconnect: Readonly<Required<BackoffOptions>>;
  readonly maxPendingCalls: number;
  readonly maxCallbacks: number;
  readonly retries: number;
  readonly cluster: ClusterMode;
  readonly loadbalance: LoadBalanceName;
  readonly maxFrameSize: number;
  readonly maxQueuedBytes: number;
  readonly fragmentSize: number;
  readonly keepAliveDelay: number;
  readonly stackTraces: StackTraceMode;
  readonly keepProcessAlive: boolean;
  readonly random: () => number;
  readonly logger: Logger;
  /** The `tls` option with its secure context made once; undefined for plain TCP. */
  readonly tls: ResolvedClientTls | undefined;
  readonly credentials: Credentials | undefined;
}

export const CLUSTER_MODES: readonly ClusterMode[] = ['failover', 'failfast', 'failsafe'];
export const LOAD_BALANCERS: readonly LoadBalanceName[] = ['random', 'roundrobin', 'leastactive', 'consistenthash'];
export const STACK_TRACE_MODES: readonly StackTraceMode[] = ['async', 'eager', 'off'];
/** Most points per provider on a consistent-hash ring (the ring is rebuilt in memory per method). */
export const MAX_HASH_NODES = 10_000;


/** A duration handed to a Node timer: longer ones would fire at once (TimeoutOverflowWarning). */
export const TIME: NumberRule = { min: 0, max: MAX_TIMER_MS };
const COUNT: NumberRule = { min: 1, integer: true };
/** A cap where 0 means "none" (`actives`, `serviceActives`). */
const CAP: NumberRule = { min: 0, integer: true };
const RETRIES: NumberRule = { min: 0, integer: true };

/** Validates and fills in the options of `new Client(options)`. */
export function resolveClientOptions(options: ClientOptions | undefined): ResolvedClientOptions {
  const o = checkObject('options', options ?? {}) as ClientOptions;
  const maxFrameSize = checkNumber('maxFrameSize', o.maxFrameSize, { min: MIN_MAX_FRAME_SIZE, max: 0xffffffff, integer: true }) ?? DEFAULT_MAX_FRAME_SIZE;
  return Object.freeze({
    providers: o.providers === undefined ? undefined : providerEntries('providers', o.providers),
    registry: registryOption(o),
    timeout: checkNumber('timeout', o.timeout, TIME) ?? 3000,
    connectTimeout: checkNumber('connectTimeout', o.connectTimeout, { min: 1, max: MAX_TIMER_MS }) ?? 3000,
    connections: checkNumber('connections', o.connections, COUNT) ?? 1,
    eager: checkBoolean('eager', o.eager) ?? false,
    idleTimeout: checkNumber('idleTimeout', o.idleTimeout, TIME) ?? 0,
    // Sent in the handshake as a uint: an integer.
    heartbeat: checkNumber('heartbeat', o.heartbeat, { min: 0, max: MAX_TIMER_MS, integer: true }) ?? 15_000,
    heartbeatMisses: checkNumber('heartbeatMisses', o.heartbeatMisses, COUNT) ?? 3,
    reconnect: backoffOptions('reconnect', o.reconnect),
    maxPendingCalls: checkNumber('maxPendingCalls', o.maxPendingCalls, COUNT) ?? 100_000,
    maxCallbacks: checkNumber('maxCallbacks', o.maxCallbacks, COUNT) ?? 1000,
    retries: checkNumber('retries', o.retries, RETRIES) ?? 2,
    cluster: oneOf('cluster', o.cluster, CLUSTER_MODES) ?? 'failover',
    loadbalance: oneOf('loadbalance', o.loadbalance, LOAD_BALANCERS) ?? 'random',
    maxFrameSize,
    maxQueuedBytes: checkNumber('maxQueuedBytes', o.maxQueuedBytes, COUNT) ?? 4 * maxFrameSize,
    fragmentSize: fragmentSizeOption(o.fragmentSize),
    keepAliveDelay: checkNumber('keepAliveDelay', o.keepAliveDelay, TIME) ?? 60_000,
    stackTraces: oneOf('stackTraces', o.stackTraces, STACK_TRACE_MODES) ?? 'async',
    keepProcessAlive: checkBoolean('keepProcessAlive', o.keepProcessAlive) ?? false,
    random: fn('random', o.random) ?? Math.random,
    logger: userLogger(checkLogger<Logger>('logger', o.logger)),
    tls: resolveClientTls('tls', o.tls),
    credentials: credentialsOption(o.credentials),
  });
}

/** `credentials`: a string of at most MAX_CREDENTIALS_BYTES, or a function. The message never quotes the value. */
function credentialsOption(value: unknown): Credentials | undefined {
  if (value === undefined || typeof value === 'function') return value as Credentials | undefined;
  if (typeof value !== 'string') {
    throw new HeartlineError('INVALID_CONFIG', `credentials must be a string or a function () => string | Promise<string> (got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value})`);
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_CREDENTIALS_BYTES) throw new HeartlineError('INVALID_CONFIG', `credentials must be at most ${MAX_CREDENTIALS_BYTES} bytes of UTF-8 (got ${bytes})`);
  return value;
}

/**
 * Validates the options of `client.refer()` / `@Consumer` into a new frozen
 * object. Undefined fields stay undefined (they fall back to the method's,
 * the contract's or the client's). Inline provider arrays and attachments are copied.
 */
export function validateReferenceOptions(options: ReferenceOptions | undefined): Readonly<ReferenceOptions> {
  const o = checkObject('options', options ?? {}) as ReferenceOptions;
  const out: ReferenceOptions = {};
  if (o.providers !== undefined) {
    out.providers = isDirectory(o.providers) ? o.providers : providerEntries('providers', o.providers, 'an array of provider entries or a Directory');
  }
  out.registry = registryOption(o);
  if (out.registry === undefined) delete out.registry;
  if (o.version !== undefined) out.version = str('version', o.version);
  if (o.group !== undefined) out.group = str('group', o.group);
  if (o.timeout !== undefined) out.timeout = checkNumber('timeout', o.timeout, TIME);
  if (o.attachments !== undefined) out.attachments = checkAttachments('attachments', o.attachments);
  if (o.methods !== undefined) {
    const methods = checkObject('methods', o.methods) as Record<string, MethodOptions | undefined>;
    const copy: Record<string, MethodOptions> = Object.create(null);
    for (const name of Object.keys(methods)) {
      const m = methods[name];
      if (m !== undefined) copy[name] = validateMethodOptions(`methods.${name}`, m);
    }
    out.methods = Object.freeze(copy);
  }
  if (o.cluster !== undefined) out.cluster = oneOf('cluster', o.cluster, CLUSTER_MODES);
  if (o.retries !== undefined) out.retries = checkNumber('retries', o.retries, RETRIES);
  if (o.loadbalance !== undefined) out.loadbalance = oneOf('loadbalance', o.loadbalance, LOAD_BALANCERS);
  if (o.sticky !== undefined) out.sticky = checkBoolean('sticky', o.sticky);
  if (o.actives !== undefined) out.actives = checkNumber('actives', o.actives, CAP);
  if (o.serviceActives !== undefined) out.serviceActives = checkNumber('serviceActives', o.serviceActives, CAP);
  if (o.hashKey !== undefined) out.hashKey = fn('hashKey', o.hashKey);
  if (o.hashNodes !== undefined) out.hashNodes = checkNumber('hashNodes', o.hashNodes, { min: 1, max: MAX_HASH_NODES, integer: true });
  if (o.interceptors !== undefined) out.interceptors = checkInterceptors('interceptors', o.interceptors);
  return Object.freeze(out);
}

/** `registry`: a ConsumerRegistry, and not beside `providers` (which would win silently). */
function registryOption(o: { providers?: unknown; registry?: unknown }): ConsumerRegistry | undefined {
  if (o.registry === undefined) return undefined;
  if (!isConsumerRegistry(o.registry)) throw invalidConfig('registry', 'a registry (e.g. an EtcdRegistry)', o.registry);
  if (o.providers !== undefined) throw new HeartlineError('INVALID_CONFIG', 'registry and providers cannot both be given: providers come from one or the other');
  return o.registry;
}

function backoffOptions(path: string, value: BackoffOptions | undefined): Readonly<Required<BackoffOptions>> {
  if (value === undefined) return DEFAULT_BACKOFF;
  const b = checkObject(path, value) as BackoffOptions;
  const initialDelay = checkNumber(`${path}.initialDelay`, b.initialDelay, TIME) ?? DEFAULT_BACKOFF.initialDelay;
  const factor = checkNumber(`${path}.factor`, b.factor, { min: 1 }) ?? DEFAULT_BACKOFF.factor;
  const maxDelay = checkNumber(`${path}.maxDelay`, b.maxDelay, TIME) ?? Math.max(DEFAULT_BACKOFF.maxDelay, initialDelay);
  if (maxDelay < initialDelay) throw new HeartlineError('INVALID_CONFIG', `${path}.maxDelay must be >= ${path}.initialDelay (got ${maxDelay} < ${initialDelay})`);
  const jitter = checkNumber(`${path}.jitter`, b.jitter, { min: 0, max: 1 }) ?? DEFAULT_BACKOFF.jitter;
  return Object.freeze({ initialDelay, factor, maxDelay, jitter });
}

/** Validates a provider list into a frozen copy: `'host:port'` or `{ address, weight }` (weight a finite number >= 0). */
function providerEntries(path: string, value: unknown, expected = 'an array of provider entries'): readonly ProviderEntry[] {
  if (!Array.isArray(value)) throw invalidConfig(path, `${expected} ('host:port' or { address, weight })`, value);
  return Object.freeze(
    value.map((entry: unknown, i): ProviderEntry => {
      const at = `${path}[${i}]`;
      if (typeof entry === 'string') {
        address(at, entry);
        return entry;
      }
      if (typeof entry !== 'object' || entry === null) throw invalidConfig(at, "'host:port' or { address, weight }", entry);
      const e = entry as { address?: unknown; weight?: unknown };
      if (typeof e.address !== 'string') throw invalidConfig(`${at}.address`, "a 'host:port' string", e.address);
      address(`${at}.address`, e.address);
      const weight = checkNumber(`${at}.weight`, e.weight, { min: 0 });
      return Object.freeze(weight === undefined ? { address: e.address } : { address: e.address, weight });
    }),
  );
}

function address(path: string, text: string): void {
  try {
    parseAddress(text);
  } catch {
    throw invalidConfig(path, "a 'host:port' address with a port from 1 to 65535", text);
  }
}

/** String keys to string values, into a frozen copy; `__proto__` is refused (providers refuse such a map key). */
export function checkAttachments(path: string, value: unknown): Readonly<Record<string, string>> {
  const o = checkObject(path, value) as Record<string, unknown>;
  const copy: Record<string, string> = {};
  for (const key of Object.keys(o)) {
    if (key === '__proto__') throw new HeartlineError('INVALID_CONFIG', `${path} cannot have the key __proto__`);
    const v = o[key];
    if (typeof v !== 'string') throw invalidConfig(`${path}.${key}`, 'a string', v);
    copy[key] = v;
  }
  return Object.freeze(copy);
}




/** An array of interceptor functions, into a frozen copy. */
export function checkInterceptors(path: string, value: unknown): readonly ClientInterceptor[] {
  if (!Array.isArray(value)) throw invalidConfig(path, 'an array of interceptor functions', value);
  value.forEach((i: unknown, n) => fn(`${path}[${n}]`, i as Function));
  return Object.freeze([...(value as ClientInterceptor[])]);
}

function str(path: string, value: unknown): string {
  if (typeof value !== 'string') throw invalidConfig(path, 'a string', value);
  return value;
}

function fn<F extends Function>(path: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidConfig(path, 'a function', value);
  return value;
}

function oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw invalidConfig(path, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

/** A plain object (not null, not an array). */

/** The `logger` option: the user's guarded (its lines never throw), or the default. */
function userLogger(logger: Logger | undefined): Logger {
  return logger === undefined ? consoleLogger : guardedLogger(logger);
}

/** `fragmentSize`: an integer, 0 (no fragments) or >= MIN_FRAGMENT_SIZE; DEFAULT_FRAGMENT_SIZE when undefined. */
function fragmentSizeOption(value: unknown): number {
  const size = checkNumber('fragmentSize', value, { min: 0, max: 0xffffffff, integer: true }) ?? DEFAULT_FRAGMENT_SIZE;
  if (size !== 0 && size < MIN_FRAGMENT_SIZE) throw invalidConfig('fragmentSize', `an integer, 0 or >= ${MIN_FRAGMENT_SIZE}`, value);
  return size;
}
