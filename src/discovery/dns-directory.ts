import { Resolver as CallbackResolver, type SrvRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import { HeartlineError } from '../errors/heartline-error.js';
import { checkLogger, checkNumber, invalidConfig } from '../errors/invalid-config.js';
import { MAX_TIMER_MS } from '../protocol/constants.js';
import type { ProviderAddress } from '../consumer/address.js';
import { DEFAULT_WEIGHT, toProviderInfo, type Directory, type ProviderInfo } from '../consumer/directory.js';
import { now } from '../transport/clock.js';
import { callGuarded } from '../transport/guarded.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { guardedLogger, logErr } from '../transport/log-fields.js';

/** The three lookups a DnsDirectory makes, promise-style: what `dns.promises.Resolver` offers (a test may pass a stub). */
export interface DnsLookup {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
}

/** Options of `new DnsDirectory(options)`. Every time is in ms. */
export interface DnsDirectoryOptions {
  /** The name to resolve: a host name (A/AAAA records), or with `srv` an SRV name such as `_heartline._tcp.greeter.default.svc.cluster.local`. */
  name: string;
  /** The providers' port, for A/AAAA records (required unless `srv`). */
  port?: number;
  /** Resolve SRV records: each gives a target host (resolved in turn to A/AAAA) and a port. Default false. */
  srv?: boolean;
  /** Address records to ask for: 4 (A), 6 (AAAA) or 0 (both). Default 0. */
  family?: 0 | 4 | 6;
  /** Time between two periodic lookups. Default 30000. */
  refreshInterval?: number;
  /** Least time between two lookups of any kind (the rate limit of lookups after connection failures); at most `refreshInterval`. Default 5000. */
  minInterval?: number;
  /** Weight of every provider found (SRV priorities and weights are ignored). Default 100. */
  weight?: number;
  /**
   * Where to look: a `dns.Resolver` or `dns.promises.Resolver` (for example
   * one with `setServers([...])` and `{ timeout, tries }`), or any object with
   * promise-returning `resolve4`, `resolve6` and `resolveSrv`. Default: a
   * `dns.promises.Resolver` on the system's servers.
   */
  resolver?: CallbackResolver | DnsLookup;
  /** Where failed lookups and changes are reported: `warn(fields, msg)`/`error(fields, msg)`, pino-compatible (a pino logger fits; README "Logs"). Default: `consoleLogger` (warn and error on stderr, one line each). */
  logger?: Logger;
}

type Listener = (providers: readonly ProviderInfo[]) => void;

/** State of the directory. Every change goes through `transition()`. */
export enum DnsDirectoryState {
  /** Nobody subscribes: no timer; `list()` returns the last list found. */
  Stopped = 'stopped',
  /** Subscribed, waiting for the next lookup (the one timer is set). */
  Waiting = 'waiting',
  /** A lookup is under way (no timer: the next one is set when it ends, if someone still subscribes). */
  Resolving = 'resolving',
  /** `close()` was called: no lookup, no timer, ever again. */
  Closed = 'closed',
}

const S = DnsDirectoryState;
const ALLOWED: Record<DnsDirectoryState, readonly DnsDirectoryState[]> = {
  [S.Stopped]: [S.Waiting, S.Resolving, S.Closed],
  [S.Waiting]: [S.Resolving, S.Stopped, S.Closed],
  [S.Resolving]: [S.Waiting, S.Stopped, S.Closed],
  [S.Closed]: [],
};

/** DNS answers that say authoritatively that there is no such record: the name has no providers. */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

const EMPTY: readonly ProviderInfo[] = Object.freeze([]);

/**
 * A Directory over DNS, as Kubernetes headless services and gRPC's default
 * resolver work: the name is looked up when the first reference subscribes,
 * then every `refreshInterval`, and again soon after a connection to one of
 * its addresses fails (the client calls `reportFailure`), never more often
 * than once per `minInterval`.
 *
 * - The list is sorted by address and published only when it changed, so
 *   the client sees no churn from answers in another order.
 * - A lookup that fails (timeout, SERVFAIL, refused, ...) keeps the last
 *   list: an outage of DNS never removes a provider. An authoritative answer
 *   with no records (NXDOMAIN, or NODATA for every type asked) empties it.
 *   A lookup succeeds only if every query it made did (with SRV, the targets'
 *   address queries too), so a partial answer never shrinks the list.
 * - One timer, unref'd, runs while someone subscribes; the last unsubscribe
 *   (or `close()`) clears it.
 *
 * ```
 *   Stopped --subscribe--> Resolving --answer--> Waiting --timer / failure report--> Resolving
 *      ^                        |                    |
 *      '---- last unsubscribe --'--------------------'           any --close()--> Closed
 * ```
 */
export class DnsDirectory implements Directory {
  readonly name: string;
  private readonly port: number | undefined;
  private readonly srv: boolean;
  private readonly family: 0 | 4 | 6;
  private readonly refreshInterval: number;
  private readonly minInterval: number;
  private readonly weight: number;
  private readonly lookup: DnsLookup;
  /** The resolver was made here: `close()` cancels its queries. */
  private readonly ownResolver: Resolver | undefined;
  private readonly logger: Logger;
  private stateValue = S.Stopped;
  private providers: readonly ProviderInfo[] = EMPTY;
  /** `key*weight,...` of `providers`: a new list is published only when this changes. */
  private signature = '';
  /** One entry per subscribe() call (the same function may subscribe twice). */
  private readonly listeners = new Set<{ listener: Listener }>();
  private timer: NodeJS.Timeout | undefined;
  /** Clock ms at which the timer fires (Infinity when it is not set). */
  private dueAt = Infinity;
  /** Clock ms at which the last lookup started. */
  private lastStart = -Infinity;
  /** Whether the last lookup succeeded; undefined before the first one ended. */
  private lastOk: boolean | undefined;
  /** Failed lookups in a row: the retry after a failure backs off from minInterval, doubling, up to refreshInterval. */
  private failures = 0;
  private lastError: unknown;
  private inFlight: Promise<void> | undefined;
  /** Lookups started since creation. */
  private lookupCount = 0;

  constructor(options: DnsDirectoryOptions) {
    const o = validate(options);
    this.name = o.name;
    this.port = o.port;
    this.srv = o.srv;
    this.family = o.family;
    this.refreshInterval = o.refreshInterval;
    this.minInterval = o.minInterval;
    this.weight = o.weight;
    this.logger = o.logger;
    if (o.resolver === undefined) {
      this.ownResolver = new Resolver();
      this.lookup = this.ownResolver;
    } else {
      this.lookup = o.resolver instanceof CallbackResolver ? promisified(o.resolver) : o.resolver;
    }
  }

  get state(): DnsDirectoryState {
    return this.stateValue;
  }

  /** Lookups started so far (for observability and tests). */
  get lookups(): number {
    return this.lookupCount;
  }

  /** The providers found by the last successful lookup (empty before it). Only reads: it starts nothing. */
  list(): readonly ProviderInfo[] {
    return this.providers;
  }

  /**
   * Calls `listener` after every change of the list. The first subscriber
   * starts the lookups; when the last one unsubscribes they stop. After
   * `close()`, nothing is ever called.
   */
  subscribe(listener: Listener): () => void {
    if (this.stateValue === S.Closed) return () => {};
    const entry = { listener };
    this.listeners.add(entry);
    if (this.stateValue === S.Stopped) {
      // A lookup from before the stop may still be under way: it goes on (its end schedules the next), never a second one.
      if (this.inFlight !== undefined) this.transition(S.Resolving);
      else this.scheduleAt(this.lastOk === false ? this.lastStart + this.retryDelay() : this.lastStart + this.refreshInterval);
    }
    return () => {
      if (!this.listeners.delete(entry) || this.listeners.size > 0) return;
      this.stop();
    };
  }

  /**
   * A connection to `address` failed: if this directory lists it, look the
   * name up again as soon as the rate limit allows (a lookup under way counts).
   * The client calls it; it never throws.
   */
  reportFailure(address: ProviderAddress): void {
    if (this.stateValue !== S.Waiting) return; // stopped, closed, or a lookup is under way
    if (!this.providers.some((p) => p.address.key === address.key)) return;
    this.scheduleAt(now());
  }

  /**
   * A promise while no lookup has succeeded yet and one is under way: a call
   * made then waits for it within its timeout instead of failing UNAVAILABLE
   * (Directory.loading). Undefined once a lookup succeeded, or when none is
   * under way (the last one failed: calls fail at once).
   */
  loading(): Promise<void> | undefined {
    if (this.lastOk === true || this.stateValue === S.Closed) return undefined;
    return this.inFlight;
  }

  /**
   * Resolves with the list once the name has been looked up successfully,
   * starting a lookup when none has been made (so the first calls need not
   * fail with UNAVAILABLE while it is under way): `await directory.ready()`
   * before the first call. Rejects with UNAVAILABLE (cause: the DNS error)
   * when that lookup fails, or at once when the last one failed less than
   * `minInterval` ago; with CLIENT_CLOSED after `close()`.
   */
  async ready(): Promise<readonly ProviderInfo[]> {
    if (this.stateValue === S.Closed) throw new HeartlineError('CLIENT_CLOSED', `DnsDirectory ${this.name} is closed`);
    if (this.lastOk === true) return this.providers;
    if (this.inFlight === undefined) {
      if (now() < this.lastStart + this.minInterval) throw this.failure();
      this.resolveNow();
    }
    await this.inFlight;
    if ((this.stateValue as DnsDirectoryState) === S.Closed) throw new HeartlineError('CLIENT_CLOSED', `DnsDirectory ${this.name} was closed during its lookup`);
    // Read again: the lookup awaited above set it.
    if ((this.lastOk as boolean | undefined) !== true) throw this.failure();
    return this.providers;
  }

  /** Stops for good: clears the timer, forgets the listeners, ignores answers still on their way. Idempotent. */
  close(): void {
    if (!this.transition(S.Closed)) return;
    this.clearTimer();
    this.listeners.clear();
    this.ownResolver?.cancel();
  }

  private failure(): HeartlineError {
    const err = this.lastError as NodeJS.ErrnoException | undefined;
    return new HeartlineError('UNAVAILABLE', `DNS lookup of ${this.name} failed: ${err?.code ?? err?.message ?? String(err)}`, { cause: err });
  }

  /** The last subscriber left: no timer; a lookup under way ends without setting one. */
  private stop(): void {
    if (this.stateValue === S.Closed) return;
    this.clearTimer();
    this.transition(S.Stopped);
  }

  /** Sets the one timer for a lookup at `at` (clock ms), or sooner if it is already set sooner; never earlier than the rate limit allows. */
  private scheduleAt(at: number): void {
    const t = now();
    const due = Math.max(at, this.lastStart + this.minInterval, t);
    if (this.timer !== undefined && due >= this.dueAt) return;
    if (due <= t) {
      this.resolveNow();
      return;
    }
    this.clearTimer();
    this.dueAt = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Infinity;
      this.resolveNow();
    }, Math.min(MAX_TIMER_MS, due - t));
    this.timer.unref();
    this.transition(S.Waiting);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Infinity;
  }

  /** Starts a lookup; when it ends, publishes a changed list and, while subscribed, sets the timer for the next one. */
  private resolveNow(): void {
    if (!this.transition(S.Resolving)) return;
    this.clearTimer();
    this.lastStart = now();
    this.lookupCount++;
    this.inFlight = this.query().then(
      (found) => this.settle(true, found, undefined),
      (err: unknown) => this.settle(false, undefined, err),
    );
  }

  private settle(ok: boolean, found: ProviderInfo[] | undefined, err: unknown): void {
    this.inFlight = undefined;
    if (this.stateValue === S.Closed) return;
    const wasOk = this.lastOk;
    this.lastOk = ok;
    this.failures = ok ? 0 : this.failures + 1;
    this.lastError = err;
    if (ok) this.publish(found!);
    // Once per run of failures, not once per lookup.
    else if (wasOk !== false) this.logger.warn({ name: this.name, err: logErr(err, 'UNAVAILABLE') }, `DNS lookup of ${this.name} failed; keeping the last ${this.providers.length} provider(s)`);
    // The listeners may have closed the directory or unsubscribed meanwhile.
    if (this.stateValue !== S.Resolving) return;
    if (this.listeners.size === 0) this.transition(S.Stopped);
    else this.scheduleAt(this.lastStart + (ok ? this.refreshInterval : this.retryDelay()));
  }

  /** After `failures` failed lookups in a row: minInterval, doubling, at most refreshInterval. */
  private retryDelay(): number {
    return Math.min(this.refreshInterval, this.minInterval * 2 ** Math.min(30, Math.max(0, this.failures - 1)));
  }

  private publish(found: ProviderInfo[]): void {
    found.sort((a, b) => (a.address.key < b.address.key ? -1 : a.address.key > b.address.key ? 1 : 0));
    const unique = found.filter((p, i) => i === 0 || p.address.key !== found[i - 1]!.address.key);
    const signature = unique.map((p) => `${p.address.key}*${p.weight}`).join(',');
    if (signature === this.signature) return;
    if (unique.length === 0) this.logger.warn({ name: this.name }, `DNS name ${this.name} has no records: no providers`);
    this.signature = signature;
    this.providers = Object.freeze(unique);
    for (const { listener } of [...this.listeners]) callGuarded(this.logger, 'a DnsDirectory listener', listener, undefined, [this.providers]);
  }

  /** One lookup: the providers found, or a rejection when any query failed other than with "no such records". */
  private async query(): Promise<ProviderInfo[]> {
    if (!this.srv) return (await this.addresses(this.name)).map((host) => this.provider(host, this.port!));
    const targets = await noRecordsAsEmpty(this.lookup.resolveSrv(this.name));
    const found = await Promise.all(targets.map(async (t) => (await this.addresses(t.name)).map((host) => this.provider(host, t.port))));
    return found.flat();
  }

  /** The addresses of `host` (itself when it is an IP address). */
  private async addresses(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    const [v4, v6] = await Promise.all([
      this.family === 6 ? [] : noRecordsAsEmpty(this.lookup.resolve4(host)),
      this.family === 4 ? [] : noRecordsAsEmpty(this.lookup.resolve6(host)),
    ]);
    return [...v4, ...v6];
  }

  private provider(ip: string, port: number): ProviderInfo {
    return toProviderInfo({ address: isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`, weight: this.weight });
  }

  /** The one gate for state changes: false (and no change) when the step is not allowed. */
  private transition(to: DnsDirectoryState): boolean {
    if (this.stateValue === to) return true;
    if (!ALLOWED[this.stateValue].includes(to)) return false;
    this.stateValue = to;
    return true;
  }
}

async function noRecordsAsEmpty<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (err) {
    if (NO_RECORDS.has((err as NodeJS.ErrnoException)?.code ?? '')) return [];
    throw err;
  }
}

function promisified(resolver: CallbackResolver): DnsLookup {
  return {
    resolve4: promisify(resolver.resolve4.bind(resolver)) as DnsLookup['resolve4'],
    resolve6: promisify(resolver.resolve6.bind(resolver)) as DnsLookup['resolve6'],
    resolveSrv: promisify(resolver.resolveSrv.bind(resolver)) as DnsLookup['resolveSrv'],
  };
}

interface ValidOptions {
  name: string;
  port: number | undefined;
  srv: boolean;
  family: 0 | 4 | 6;
  refreshInterval: number;
  minInterval: number;
  weight: number;
  resolver: CallbackResolver | DnsLookup | undefined;
  logger: Logger;
}

/** Checks every option; a bad one throws INVALID_CONFIG naming it, as the client's options do. */
function validate(options: DnsDirectoryOptions): ValidOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  const o = options;
  if (typeof o.name !== 'string' || o.name.trim() === '') throw invalid('name', 'a non-empty host name', o.name);
  const srv = o.srv ?? false;
  if (typeof srv !== 'boolean') throw invalid('srv', 'true or false', srv);
  let port: number | undefined;
  if (o.port !== undefined || !srv) {
    if (!Number.isInteger(o.port) || o.port! < 1 || o.port! > 65535) throw invalid('port', `an integer from 1 to 65535${srv ? '' : ' (required without srv)'}`, o.port);
    port = o.port;
  }
  const family = o.family ?? 0;
  if (family !== 0 && family !== 4 && family !== 6) throw invalid('family', '0, 4 or 6', family);
  const refreshInterval = checkNumber('DnsDirectory refreshInterval', o.refreshInterval, { min: 1, max: MAX_TIMER_MS }) ?? 30_000;
  const minInterval = checkNumber('DnsDirectory minInterval', o.minInterval, { min: 1, max: MAX_TIMER_MS }) ?? Math.min(5000, refreshInterval);
  if (minInterval > refreshInterval) throw new HeartlineError('INVALID_CONFIG', `minInterval must be <= refreshInterval (got ${minInterval} > ${refreshInterval})`);
  const weight = checkNumber('DnsDirectory weight', o.weight, { min: 0 }) ?? DEFAULT_WEIGHT;
  const r = o.resolver as Partial<DnsLookup> | undefined;
  if (r !== undefined && (typeof r !== 'object' || r === null || typeof r.resolve4 !== 'function' || typeof r.resolve6 !== 'function' || typeof r.resolveSrv !== 'function')) {
    throw invalid('resolver', 'a dns.Resolver, a dns.promises.Resolver or an object with resolve4, resolve6 and resolveSrv', r);
  }
  const userLogger = checkLogger<Logger>('DnsDirectory logger', o.logger);
  const logger = userLogger === undefined ? consoleLogger : guardedLogger(userLogger); // its lines never throw (they run in timers)
  return { name: o.name.trim(), port, srv, family, refreshInterval, minInterval, weight, resolver: o.resolver, logger };
}

function invalid(path: string, rule: string, value: unknown): HeartlineError {
  return invalidConfig(`DnsDirectory ${path}`, rule, value);
}
