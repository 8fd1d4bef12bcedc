import type { MethodOptions, ServiceDefinition } from '../decorators/metadata.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { withOrigin } from '../exchange/pending-calls.js';
import { encodeBody } from '../protocol/codec.js';
import { requestTuple, type Attachments } from '../protocol/messages.js';
import { parseAddress, type ProviderAddress } from './address.js';
import type { ConnectionRegistry } from './connection-registry.js';

/** Options of one reference (`client.refer(Contract, options)` or `@Consumer(Contract, options)`). */
export interface ReferenceOptions {
  /** Provider addresses (`host:port`) for this service. Default: the client's `providers`. */
  providers?: string[];
  /** Overrides the contract's version. */
  version?: string;
  /** Overrides the contract's group. */
  group?: string;
  /** Call timeout in ms for every method of this reference. Default: the client's `timeout`. */
  timeout?: number;
  /** Attachments sent with every call (trace ids, auth tokens). Default none. */
  attachments?: Attachments;
  /** Per-method options; they win over the contract's and the reference's. */
  methods?: Record<string, MethodOptions>;
}

/** Client-wide settings a reference reads. */
export interface ReferenceDefaults {
  providers: readonly string[];
  timeout: number;
  captureStack: boolean;
}

interface ResolvedMethod {
  label: string;
  timeout: number;
  oneWay: boolean;
}

/**
 * The consumer's view of one remote service: it resolves per-method options
 * (method, then reference, then client), encodes each call and sends it over
 * the shared connection to a provider.
 */
export class Reference {
  readonly definition: ServiceDefinition;
  private readonly version: string;
  private readonly group: string;
  private readonly providers: ProviderAddress[];
  private readonly registry: ConnectionRegistry;
  private readonly options: ReferenceOptions;
  private readonly defaults: ReferenceDefaults;
  private readonly attachments: Attachments | undefined;
  private readonly resolved = new Map<string, ResolvedMethod>();
  private isClosed: () => boolean;

  constructor(definition: ServiceDefinition, options: ReferenceOptions, defaults: ReferenceDefaults, registry: ConnectionRegistry, isClosed: () => boolean) {
    this.definition = definition;
    this.options = { ...options };
    this.defaults = defaults;
    this.registry = registry;
    this.isClosed = isClosed;
    this.version = options.version ?? definition.version;
    this.group = options.group ?? definition.group;
    this.attachments = options.attachments === undefined ? undefined : { ...options.attachments };
    const list = options.providers ?? defaults.providers;
    if (list.length === 0) throw new HeartlineError('INVALID_CONFIG', `no providers configured for ${definition.name}`);
    this.providers = list.map(parseAddress);
  }

  /**
   * Calls `method` on a provider; resolves with its result. `caller` is the
   * stub function: the captured stack starts at the user's call site.
   */
  invoke(method: string, args: unknown[], caller?: Function): Promise<unknown> {
    const m = this.resolved.get(method) ?? this.resolve(method);
    let origin: Error | undefined;
    if (this.defaults.captureStack) {
      origin = { name: 'Error', message: '' } as Error;
      Error.captureStackTrace(origin, caller ?? this.invoke);
    }
    if (this.isClosed()) return Promise.reject(withOrigin(new HeartlineError('CLIENT_CLOSED', `${m.label}: the client is closed`), origin));
    let body: Buffer;
    try {
      body = encodeBody(requestTuple(this.definition.name, this.version, this.group, method, args, this.attachments));
    } catch (err) {
      return Promise.reject(withOrigin(new HeartlineError('SERIALIZATION_ERROR', `${m.label}: arguments could not be encoded: ${(err as Error).message}`, { cause: err }), origin));
    }
    const conn = this.registry.get(this.pick());
    return conn.call({ label: m.label, body, timeout: m.timeout, oneWay: m.oneWay, origin });
  }

  private pick(): ProviderAddress {
    const n = this.providers.length;
    return n === 1 ? this.providers[0]! : this.providers[Math.floor(Math.random() * n)]!;
  }

  private resolve(method: string): ResolvedMethod {
    const declared = this.definition.methods.get(method);
    const own = this.options.methods !== undefined && Object.hasOwn(this.options.methods, method) ? this.options.methods[method] : undefined;
    const timeout = own?.timeout ?? declared?.timeout ?? this.options.timeout ?? this.defaults.timeout;
    const m: ResolvedMethod = { label: `${this.definition.name}#${method}`, timeout, oneWay: own?.oneWay ?? declared?.oneWay ?? false };
    this.resolved.set(method, m);
    return m;
  }
}
