import type { MethodOptions, ServiceDefinition } from '../contract/service-definition.js';
import type { ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { ClientConnection } from '../exchange/client-connection.js';
import { withOrigin } from '../exchange/pending-calls.js';
import { encodeBody } from '../protocol/codec.js';
import { MAX_TIMER_MS } from '../protocol/constants.js';
import { requestTuple, type Attachments } from '../protocol/messages.js';
import { checkArgs, OMIT_UNDEFINED, trimArgs } from '../protocol/value-check.js';
import { now } from '../transport/clock.js';
import type { Logger } from '../transport/logger.js';
import type { ConnectionRegistry, ProviderListHold } from './connection-registry.js';
import type { Directory, ProviderEntry } from './directory.js';
import type { ConsumerRegistry } from './registry.js';
import type { Endpoint, EndpointCall } from './endpoint.js';
import { createLoadBalancer, type Candidate, type HashKey, type LoadBalanceName, type LoadBalancer } from './load-balance/index.js';

/**
 * How a failed call's stack shows its caller:
 * - `async`: the stub re-captures the stack when the call fails; through V8's
 *   async stack traces it names every awaiting caller, and costs nothing on success;
 * - `eager`: the stack is captured when the call is made (also shows callers
 *   that do not await), at a few µs per call;
 * - `off`: the stack is where the failure was detected inside Heartline.
 */
export type StackTraceMode = 'async' | 'eager' | 'off';

/** How a reference handles a failed attempt. */
export type ClusterMode = 'failover' | 'failfast' | 'failsafe';

/** Options of one reference (`client.refer(Contract, options)` or `@Consumer(Contract, options)`). */
export interface ReferenceOptions {
  /** Providers of this service: addresses (`host:port` or `{ address, weight }`) or a `Directory`. Default: the client's `providers`. */
  providers?: readonly ProviderEntry[] | Directory;
  /** A registry (`EtcdRegistry`) to find this service's providers in. Default: the client's `registry` when neither names `providers`. */
  registry?: ConsumerRegistry;
  /** Overrides the contract's version. */
  version?: string;
  /** Overrides the contract's group. */
  group?: string;
  /** Call timeout in ms for every method of this reference. Default: the client's `timeout` (3000). */
  timeout?: number;
  /** Attachments sent with every call (trace ids, auth tokens). Default none. */
  attachments?: Attachments;
  /** Per-method options; they win over the contract's and the reference's. */
  methods?: Record<string, MethodOptions>;
  /** `failover` (default), `failfast` or `failsafe`. */
  cluster?: ClusterMode;
  /** Extra attempts on other providers under failover. Default: the client's (2). */
  retries?: number;
  /** `random` (weighted, default), `roundrobin` (smooth weighted), `leastactive` or `consistenthash`. */
  loadbalance?: LoadBalanceName;
  /** Stay on the provider used last while it is available. Default false. */
  sticky?: boolean;
  /** Cap on each method's calls in flight to one provider. Default none. */
  actives?: number;
  /** Cap on all of this service's calls in flight to one provider. Default none. */
  serviceActives?: number;
  /** Consistent hash: the key of a call. Default: the first argument. */
  hashKey?: HashKey;
  /** Consistent hash: points per provider on the ring. Default 160. */
  hashNodes?: number;
}

/** Client-wide settings a reference reads. */
export interface ReferenceDefaults {
  providers: Directory | undefined;
  timeout: number;
  retries: number;
  cluster: ClusterMode;
  loadbalance: LoadBalanceName;
  stackTraces: StackTraceMode;
  random: () => number;
  logger: Logger;
}

interface ResolvedMethod {
  /** `service#method`: the label in messages and the key of active counts. */
  label: string;
  timeout: number;
  oneWay: boolean;
  idempotent: boolean;
  attempts: number;
  actives: number;
  callbacks: readonly number[] | undefined;
}

type EndpointCandidate = Candidate & { readonly endpoint: Endpoint };

/** Failover starts another attempt only while at least this share of the call's timeout is left. */
const MIN_RETRY_BUDGET = 0.05;

/** Codes failover retries only for idempotent methods: the call may have run. */
const RETRY_IF_IDEMPOTENT: readonly ErrorCode[] = ['TIMEOUT', 'CONNECTION_LOST_WRITTEN'];

/**
 * The consumer's view of one remote service. It resolves per-method options
 * (method, then reference, then client), encodes each call once, picks a
 * provider with the load balancer (skipping unavailable ones) and, under
 * failover, tries another provider only when the call certainly did not run
 * (or the method is idempotent).
 */
export class Reference {
  readonly definition: ServiceDefinition;
  private readonly version: string;
  private readonly group: string;
  private readonly directory: Directory;
  /** This reference's claim on its provider list; dropped by release() or when the reference is collected. */
  private readonly hold: ProviderListHold;
  private readonly registry: ConnectionRegistry;
  private readonly options: ReferenceOptions;
  private readonly defaults: ReferenceDefaults;
  private readonly attachments: Attachments | undefined;
  private readonly balancer: LoadBalancer;
  private readonly cluster: ClusterMode;
  private readonly serviceActives: number;
  private readonly resolved = new Map<string, ResolvedMethod>();
  private last: Endpoint | undefined;
  private cache: { listed: readonly unknown[]; entries: EndpointCandidate[] } | undefined;

  constructor(definition: ServiceDefinition, options: ReferenceOptions, defaults: ReferenceDefaults, registry: ConnectionRegistry) {
    this.definition = definition;
    this.options = { ...options };
    this.defaults = defaults;
    this.registry = registry;
    this.version = options.version ?? definition.version;
    this.group = options.group ?? definition.group;
    this.attachments = options.attachments === undefined ? undefined : { ...options.attachments };
    this.cluster = options.cluster ?? defaults.cluster; // options were validated by client-options.ts
    this.balancer = createLoadBalancer(options.loadbalance ?? defaults.loadbalance, defaults.random, options.hashKey, options.hashNodes);
    this.serviceActives = positiveOrInfinity(options.serviceActives);
    const providers = options.providers ?? defaults.providers;
    if (providers === undefined) throw new HeartlineError('INVALID_CONFIG', `no providers configured for ${definition.name}`);
    // Inline arrays are interned by the registry: 100k refer() with the same list follow it once.
    this.hold = registry.hold(providers, this);
    this.directory = this.hold.directory;
  }

  /** True when the stub should re-capture the stack of a failure (`stackTraces: 'async'`). */
  get recaptureStacks(): boolean {
    return this.defaults.stackTraces === 'async';
  }

  /** Stops following the provider list. */
  release(): void {
    this.hold.release();
  }

  /**
   * Calls `method` on a provider; resolves with its result. `caller` is the
   * stub function: the captured stack starts at the user's call site.
   */
  invoke(method: string, args: unknown[], caller?: Function): Promise<unknown> {
    const m = this.resolved.get(method) ?? this.resolve(method);
    let origin: Error | undefined;
    if (this.defaults.stackTraces === 'eager') {
      origin = { name: 'Error', message: '' } as Error;
      Error.captureStackTrace(origin, caller ?? this.invoke);
    }
    if (this.registry.isClosed) return Promise.reject(withOrigin(new HeartlineError('CLIENT_CLOSED', `${m.label}: the client is closed`), origin));
    // Trailing undefined arguments are dropped, so that the handler's parameter defaults apply.
    args = trimArgs(args);
    const positions = m.callbacks;
    if (positions !== undefined) {
      for (const i of positions) {
        if (typeof args[i] !== 'function') return Promise.reject(withOrigin(new HeartlineError('SERIALIZATION_ERROR', `${m.label}: argument ${i} must be a function (a callback)`), origin));
      }
    }
    let body: Buffer | undefined;
    let encode: ((conn: ClientConnection, attempt: EndpointCall) => Buffer) | undefined;
    try {
      // Refused before anything is written: a value the provider would receive changed (value-check.ts).
      const check = checkArgs(args, positions);
      if (typeof check === 'string') return Promise.reject(withOrigin(new HeartlineError('SERIALIZATION_ERROR', `${m.label}: ${check}`), origin));
      const omitUndefined = check === OMIT_UNDEFINED;
      if (positions === undefined) {
        body = this.encode(method, args, omitUndefined);
      } else {
        // Callback ids belong to a connection, so such calls are encoded once the connection is known.
        encode = (conn, attempt) => {
          // All of the call's new callbacks are registered, or none (over the connection's cap: LIMIT_EXCEEDED).
          const fresh: Function[] = [];
          const ids = conn.callbacks.registerAll(positions.map((i) => args[i] as Function), fresh);
          try {
            const body = this.encode(method, args.map((a, i) => (positions.includes(i) ? ids[positions.indexOf(i)] : a)), omitUndefined);
            attempt.fresh = fresh.length > 0 ? fresh : undefined; // forgotten again if this attempt is never written
            return body;
          } catch (err) {
            for (const fn of fresh) conn.callbacks.release(fn);
            throw err;
          }
        };
      }
    } catch (err) {
      // A getter or proxy in the arguments threw, or msgpackr refused what the check let through.
      return Promise.reject(withOrigin(new HeartlineError('SERIALIZATION_ERROR', `${m.label}: arguments could not be encoded: ${(err as Error).message}`, { cause: err }), origin));
    }
    const call: EndpointCall = {
      label: m.label,
      body: body ?? EMPTY,
      timeout: m.timeout,
      oneWay: m.oneWay,
      origin,
      encode,
      methodKey: m.label,
      actives: m.actives,
      serviceKey: this.definition.name,
      serviceActives: this.serviceActives,
    };
    const deadline = m.timeout > 0 ? now() + m.timeout : Infinity;
    // An idempotent method may be retried after a timeout, so each attempt that can actually
    // happen (one per available provider, at most `attempts`) gets an equal share of the time
    // left; the caller never waits longer than the call's timeout.
    if (m.idempotent && m.attempts > 1 && m.timeout > 0) {
      const possible = Math.min(m.attempts, this.untried(undefined));
      if (possible > 1) call.timeout = Math.max(1, Math.ceil(m.timeout / possible));
    }
    const first = this.select(m, args, undefined);
    if (first === undefined) {
      const listing = this.directory.loading?.();
      if (listing !== undefined) return this.afterListing(listing, m, args, call, deadline, origin);
      return this.finish(m, this.unavailable(m, origin));
    }
    const attempt = first.invoke(call);
    if (m.attempts === 1 && this.cluster !== 'failsafe') return attempt;
    return attempt.catch((err: unknown) => this.recover(err, m, args, call, deadline, [first]));
  }

  /** A call made before a registry's first list arrived: it waits for the list within its timeout, then goes as usual. */
  private async afterListing(listing: Promise<void>, m: ResolvedMethod, args: unknown[], call: EndpointCall, deadline: number, origin: Error | undefined): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const left = deadline - now();
    await Promise.race([listing, this.registry.whenClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, Number.isFinite(left) ? Math.max(0, left) : MAX_TIMER_MS)))]);
    clearTimeout(timer);
    // The client closed while this call waited: it must not open a connection now.
    if (this.registry.isClosed) throw withOrigin(new HeartlineError('CLIENT_CLOSED', `${m.label}: the client was closed while the call waited for its provider list`), origin);
    const first = this.select(m, args, undefined);
    if (first === undefined) return this.finish(m, this.unavailable(m, origin));
    const timeLeft = deadline - now();
    const attempt = { ...call, timeout: Number.isFinite(timeLeft) ? Math.max(1, Math.ceil(timeLeft)) : call.timeout };
    try {
      return await first.invoke(attempt);
    } catch (err) {
      if (m.attempts === 1 && this.cluster !== 'failsafe') throw err;
      return this.recover(err, m, args, attempt, deadline, [first]);
    }
  }

  /** After a failed attempt: retry elsewhere when it is safe, else settle per cluster mode. */
  private async recover(err: unknown, m: ResolvedMethod, args: unknown[], call: EndpointCall, deadline: number, tried: Endpoint[]): Promise<unknown> {
    let last = err;
    while (tried.length < m.attempts && this.retryable(last, m)) {
      const left = deadline - now();
      // A retry with (almost) no time left would only turn a clear error into a TIMEOUT.
      if (left < Math.max(1, m.timeout * MIN_RETRY_BUDGET)) break;
      const next = this.select(m, args, tried);
      if (next === undefined) break;
      // Attempts still possible, this one included: no more than the providers not tried yet.
      const possible = m.idempotent ? Math.max(1, Math.min(m.attempts - tried.length, this.untried(tried))) : 1;
      tried.push(next);
      const share = left / possible;
      try {
        return await next.invoke({ ...call, timeout: Number.isFinite(share) ? Math.max(1, Math.ceil(share)) : call.timeout });
      } catch (e) {
        last = e;
      }
    }
    return this.finish(m, last);
  }

  private retryable(err: unknown, m: ResolvedMethod): boolean {
    if (!(err instanceof HeartlineError)) return false;
    return err.retrySafe || (m.idempotent && RETRY_IF_IDEMPOTENT.includes(err.code));
  }

  private finish(m: ResolvedMethod, err: unknown): Promise<unknown> {
    if (this.cluster === 'failsafe') {
      this.defaults.logger.warn(`${m.label} failed (failsafe, returning undefined): ${(err as Error)?.message}`, { code: (err as HeartlineError)?.code });
      return Promise.resolve(undefined);
    }
    return Promise.reject(err);
  }

  private unavailable(m: ResolvedMethod, origin: Error | undefined): HeartlineError {
    return withOrigin(new HeartlineError('UNAVAILABLE', `${m.label}: no available provider of ${this.definition.name} (of ${this.directory.list().length} listed${this.directory.loading?.() === undefined ? '' : '; the registry has not answered yet'})`), origin);
  }

  /** The provider for the next attempt: available, not tried yet, sticky if asked, else the balancer's choice. */
  private select(m: ResolvedMethod, args: unknown[], tried: Endpoint[] | undefined): Endpoint | undefined {
    const all = this.candidates();
    if (this.options.sticky === true && this.last !== undefined && this.last.available && tried?.includes(this.last) !== true) {
      if (all.some((c) => c.endpoint === this.last)) return this.last;
    }
    let usable: readonly EndpointCandidate[] = all;
    if (tried !== undefined || !all.every((c) => c.endpoint.available)) {
      usable = all.filter((c) => c.endpoint.available && tried?.includes(c.endpoint) !== true);
    }
    if (usable.length === 0) return undefined;
    const chosen = usable.length === 1 ? usable[0]! : (this.balancer.pick(usable, { methodKey: m.label, args }) as EndpointCandidate);
    this.last = chosen.endpoint;
    return chosen.endpoint;
  }

  /** Available providers not in `tried`. */
  private untried(tried: readonly Endpoint[] | undefined): number {
    let n = 0;
    for (const c of this.candidates()) if (c.endpoint.available && tried?.includes(c.endpoint) !== true) n++;
    return n;
  }

  /** One candidate per listed provider, rebuilt only when the provider list changes. */
  private candidates(): readonly EndpointCandidate[] {
    const listed = this.directory.list();
    if (this.cache?.listed !== listed) {
      const entries = listed.map((p): EndpointCandidate => {
        const endpoint = this.registry.endpoint(p.address);
        return { key: p.address.key, weight: p.weight, endpoint, activeFor: (k) => endpoint.activeFor(k) };
      });
      this.cache = { listed, entries };
    }
    return this.cache.entries;
  }

  private encode(method: string, args: unknown[], omitUndefined: boolean): Buffer {
    return encodeBody(requestTuple(this.definition.name, this.version, this.group, method, args, this.attachments, false), omitUndefined);
  }

  private resolve(method: string): ResolvedMethod {
    const declared = this.definition.methods.get(method);
    const own = this.options.methods !== undefined && Object.hasOwn(this.options.methods, method) ? this.options.methods[method] : undefined;
    const retries = own?.retries ?? declared?.retries ?? this.options.retries ?? this.defaults.retries;
    const callbacks = own?.callbacks ?? declared?.callbacks;
    const m: ResolvedMethod = {
      label: `${this.definition.name}#${method}`,
      timeout: own?.timeout ?? declared?.timeout ?? this.options.timeout ?? this.defaults.timeout,
      oneWay: own?.oneWay ?? declared?.oneWay ?? false,
      idempotent: own?.idempotent ?? declared?.idempotent ?? false,
      attempts: this.cluster === 'failover' ? 1 + Math.max(0, retries) : 1,
      actives: positiveOrInfinity(own?.actives ?? declared?.actives ?? this.options.actives),
      callbacks: callbacks !== undefined && callbacks.length > 0 ? callbacks : undefined,
    };
    this.resolved.set(method, m);
    return m;
  }
}

const EMPTY = Buffer.alloc(0);

function positiveOrInfinity(n: number | undefined): number {
  return n !== undefined && n > 0 ? n : Infinity;
}
