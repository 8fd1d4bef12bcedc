import { composeInterceptors } from '../context/interceptor-chain.js';
import type { MethodOptions, ServiceDefinition } from '../contract/service-definition.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { withOrigin } from '../exchange/pending-calls.js';
import { requestPrefix, type Attachments } from '../protocol/messages.js';
import type { Logger } from '../transport/logger.js';
import type { ValidCallOptions } from './call-options.js';
import { callObserved, markCall, observeCall } from './call-events.js';
import type { ClientCall, ClientInterceptor } from './client-interceptor.js';
import { createClusterInvoker, type ClusterInvoker, type ClusterMode } from './cluster/index.js';
import type { ConnectionRegistry, ProviderListHold } from './connection-registry.js';
import type { Directory, ProviderEntry } from './directory.js';
import { ClientInvocation, NO_ATTACHMENTS, type MethodTarget } from './invocation.js';
import { createLoadBalancer, type HashKey, type LoadBalanceName } from './load-balance/index.js';
import { ProviderPicker } from './provider-picker.js';
import { guardSignal } from './signal-guard.js';
import { now } from '../transport/clock.js';
import type { ConsumerRegistry } from './registry.js';

export type { ClusterMode } from './cluster/index.js';

/**
 * How a failed call's stack shows its caller:
 * - `async`: the stub re-captures the stack when the call fails; through V8's
 *   async stack traces it names every awaiting caller, and costs nothing on success;
 * - `eager`: the stack is captured when the call is made (also shows callers
 *   that do not await), at a few µs per call;
 * - `off`: the stack is where the failure was detected inside Heartline.
 */
export type StackTraceMode = 'async' | 'eager' | 'off';

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
  /**
   * Interceptors of this reference's calls, outermost first. They run after
   * the client-wide ones (`client.use`), and before the cluster stage: they
   * see each logical call once, however many attempts it takes. Default none.
   */
  interceptors?: readonly ClientInterceptor[];
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
  /** The client-wide interceptors (`client.use`); read at each call. */
  interceptors: ClientInterceptors;
  /** The Client: `client` in the call channels' messages. */
  client: object;
}

/** The client-wide interceptors: `version` changes whenever `list` does, so references recompose their chain only then. */
export interface ClientInterceptors {
  readonly list: readonly ClientInterceptor[];
  readonly version: number;
}

type Chain = (call: ClientCall) => Promise<unknown>;

/**
 * The consumer's view of one remote service: it resolves each method's
 * options (method, then reference, then client; cached per method) and
 * assembles the call path:
 *
 * ```
 *   stub --> invocation --> client-wide interceptors --> reference's interceptors
 *        --> cluster (failover | failfast | failsafe) --> provider picker
 *        --> endpoint (admission, active slots, pool) --> attempt --> connection
 * ```
 */
export class Reference {
  readonly definition: ServiceDefinition;
  private readonly version: string;
  private readonly group: string;
  /** This reference's claim on its provider list; dropped by release() or when the reference is collected. */
  private readonly hold: ProviderListHold;
  private readonly registry: ConnectionRegistry;
  private readonly options: ReferenceOptions;
  private readonly defaults: ReferenceDefaults;
  private readonly attachments: Readonly<Attachments>;
  private readonly clusterMode: ClusterMode;
  private readonly serviceActives: number;
  private readonly targets = new Map<string, MethodTarget>();
  private readonly cluster: ClusterInvoker;
  private readonly own: readonly ClientInterceptor[];
  /** The composed interceptors, for the client-wide list of `chainVersion`; undefined when there are none. */
  private chain: Chain | undefined;
  private chainVersion = -1;

  constructor(definition: ServiceDefinition, options: ReferenceOptions, defaults: ReferenceDefaults, registry: ConnectionRegistry) {
    this.definition = definition;
    this.options = { ...options };
    this.defaults = defaults;
    this.registry = registry;
    this.version = options.version ?? definition.version;
    this.group = options.group ?? definition.group;
    this.attachments = options.attachments === undefined ? NO_ATTACHMENTS : Object.freeze({ ...options.attachments });
    this.clusterMode = options.cluster ?? defaults.cluster; // options were validated by client-options.ts
    this.serviceActives = positiveOrInfinity(options.serviceActives);
    this.own = options.interceptors ?? [];
    const providers = options.providers ?? defaults.providers;
    if (providers === undefined) throw new HeartlineError('INVALID_CONFIG', `no providers configured for ${definition.name}`);
    // Inline arrays are interned by the registry: 100k refer() with the same list follow it once.
    this.hold = registry.hold(providers, this);
    const balancer = createLoadBalancer(options.loadbalance ?? defaults.loadbalance, defaults.random, options.hashKey, options.hashNodes);
    const picker = new ProviderPicker(this.hold.directory, registry, balancer, options.sticky === true);
    this.cluster = createClusterInvoker(this.clusterMode, picker, defaults.logger);
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
   * `options` are the call's own (`withOptions`). A HeartlineError it
   * rejects with names the call (`err.call`, unless a deeper call named
   * itself there): the stub needs no handler of its own (no promise more per call).
   */
  invoke(method: string, args: unknown[], caller?: Function, options?: ValidCallOptions): Promise<unknown> {
    const target = this.targets.get(method) ?? this.resolve(method);
    let origin: Error | undefined;
    if (this.defaults.stackTraces === 'eager') {
      origin = { name: 'Error', message: '' } as Error;
      Error.captureStackTrace(origin, caller ?? this.invoke);
    }
    if (this.registry.isClosed) return Promise.reject(markCall(withOrigin(new HeartlineError('CLIENT_CLOSED', `${target.label}: the client is closed`), origin), target.label));
    // The one clock read of the common path: the deadline, the refusal check, the attempt's timer and budget all use it.
    const at = now();
    const inv = ClientInvocation.create(target, args, options, origin, at);
    const shared = this.defaults.interceptors;
    if (shared.version !== this.chainVersion) this.compose(shared);
    // observeCall names the call on its error itself; the cluster stage names its own failures (startCall).
    if (inv.links !== undefined || callObserved()) return observeCall(inv, this.defaults.client, this.chain === undefined ? this.direct : this.guarded);
    if (this.chain !== undefined) return this.guarded(inv).catch((err: unknown) => rethrowMarked(err, target.label));
    try {
      return this.cluster.invoke(inv, at);
    } catch (err) {
      return Promise.reject(markCall(err, target.label)); // a load balancer's hashKey threw
    }
  }

  /** The cluster stage, with no interceptor before it. */
  private readonly direct = (inv: ClientInvocation): Promise<unknown> => this.cluster.invoke(inv);

  /** The interceptors, then the cluster stage; the caller's signal settles the call at once whatever the interceptors do. */
  private readonly guarded = (inv: ClientInvocation): Promise<unknown> => {
    const chain = this.chain!(inv); // composeInterceptors turns a throw into a rejection
    return inv.signal === undefined ? chain : guardSignal(inv, inv.signal, chain);
  };

  /** Client-wide interceptors, then the reference's, around the cluster stage; none: no chain at all. */
  private compose(shared: ClientInterceptors): void {
    this.chainVersion = shared.version;
    const all = [...shared.list, ...this.own];
    this.chain = all.length === 0 ? undefined : composeInterceptors<ClientCall>(all, (call) => this.terminal(call));
  }

  private terminal(call: ClientCall): Promise<unknown> {
    if (!(call instanceof ClientInvocation)) {
      return Promise.reject(new HeartlineError('INVALID_CONFIG', `${this.definition.name}: an interceptor passed next() something other than the call or call.with(...)`));
    }
    return this.cluster.invoke(call);
  }

  private resolve(method: string): MethodTarget {
    const declared = this.definition.methods.get(method);
    const own: MethodOptions | undefined = this.options.methods !== undefined && Object.hasOwn(this.options.methods, method) ? this.options.methods[method] : undefined;
    const retries = own?.retries ?? declared?.retries ?? this.options.retries ?? this.defaults.retries;
    const callbacks = own?.callbacks ?? declared?.callbacks;
    const target: MethodTarget = Object.freeze({
      service: this.definition.name,
      version: this.version,
      group: this.group,
      method,
      label: `${this.definition.name}#${method}`,
      timeout: own?.timeout ?? declared?.timeout ?? this.options.timeout ?? this.defaults.timeout,
      oneWay: own?.oneWay ?? declared?.oneWay ?? false,
      idempotent: own?.idempotent ?? declared?.idempotent ?? false,
      attempts: this.clusterMode === 'failover' ? 1 + Math.max(0, retries) : 1,
      actives: positiveOrInfinity(own?.actives ?? declared?.actives ?? this.options.actives),
      serviceActives: this.serviceActives,
      callbacks: callbacks !== undefined && callbacks.length > 0 ? callbacks : undefined,
      attachments: this.attachments,
      prefix: requestPrefix(this.definition.name, this.version, this.group, method),
    });
    this.targets.set(method, target);
    return target;
  }
}

function rethrowMarked(err: unknown, label: string): never {
  markCall(err, label);
  throw err;
}

function positiveOrInfinity(n: number | undefined): number {
  return n !== undefined && n > 0 ? n : Infinity;
}
