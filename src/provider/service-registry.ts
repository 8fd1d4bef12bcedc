import { serviceOf, type Contract, type ServiceDefinition } from '../contract/service-definition.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ExecutionCounter } from './execution-limits.js';
import { RequestNames } from './request-names.js';
import type { Authorize } from './authorization.js';
import type { ProviderOptions } from './provider-options.js';
import type { ServerInterceptor } from './server-interceptor.js';

type Handler = (...args: unknown[]) => unknown;

/** One declared method of an exported service: what a request names, found once at registration. */
export interface ExportedMethod {
  readonly service: ExportedService;
  readonly name: string;
  readonly handler: Handler;
  /** Argument positions that carry callback ids; undefined for none. */
  readonly callbacks: readonly number[] | undefined;
  /** The method's `executes` cap, if any. */
  readonly executes: ExecutionCounter | undefined;
}

/** One exported service: an instance and the methods its contract declares. */
export interface ExportedService {
  readonly definition: ServiceDefinition;
  readonly version: string;
  readonly group: string;
  readonly instance: object;
  /** Declared methods only; a Map, so prototype members can never be found. */
  readonly methods: ReadonlyMap<string, ExportedMethod>;
  /** The service's `executes` cap, if any. */
  readonly executes: ExecutionCounter | undefined;
  /** The interceptors a call to this service runs through: the server-wide ones, then the service's own. */
  readonly interceptors: readonly ServerInterceptor[];
  /** The `authorize` hooks a call must pass first: the server's, then the service's; undefined when neither is set (no cost per call). */
  readonly authorizers: readonly Authorize[] | undefined;
}

interface MutableService extends ExportedService {
  interceptors: readonly ServerInterceptor[];
  readonly own: readonly ServerInterceptor[];
}

/**
 * The services a server exports, keyed by (service, version, group). Only the
 * methods a contract lists are callable, and each must be implemented. Also
 * holds the server-wide interceptors (`server.use`), so that each service's
 * list is put together once, not per call.
 */
export class ServiceRegistry {
  /** name -> version -> group -> service: nested maps, so a lookup builds no key string. */
  private readonly services = new Map<string, Map<string, Map<string, MutableService>>>();
  private serverWide: readonly ServerInterceptor[] = [];
  /** The names of recent requests, decoded once, with their methods (decodeRequest, findMethod). */
  readonly names = new RequestNames();
  /** The server's `authorize` option, if any. */
  private readonly serverAuthorize: Authorize | undefined;

  constructor(serverAuthorize?: Authorize) {
    this.serverAuthorize = serverAuthorize;
  }

  register(contract: Contract, instance: object, options: ProviderOptions = {}): ExportedService {
    const definition = serviceOf(contract, 'server.register');
    const version = options.version ?? definition.version;
    const group = options.group ?? definition.group;
    if (this.lookup(definition.name, version, group) !== undefined) {
      throw new HeartlineError('INVALID_CONFIG', `service ${definition.name} version '${version}' group '${group}' is already registered`);
    }
    const own = checkInterceptors(options.interceptors, `server.register(${definition.name}): interceptors`);
    const methodExecutes = new Map<string, ExecutionCounter>();
    for (const name of Object.keys(options.methods ?? {})) {
      if (!definition.methods.has(name)) throw new HeartlineError('INVALID_CONFIG', `${definition.name} declares no method '${name}'`);
      const limit = options.methods![name]!.executes;
      if (limit !== undefined) methodExecutes.set(name, new ExecutionCounter(checkLimit(limit)));
    }
    const handlers = new Map<string, Handler>();
    for (const name of definition.methods.keys()) {
      const fn: unknown = (instance as Record<string, unknown>)[name];
      if (typeof fn !== 'function') {
        const by = instance.constructor?.name;
        throw new HeartlineError('INVALID_CONFIG', `server.register: ${definition.name}.${name} is declared by the contract but not implemented${by ? ` by ${by}` : ''}`);
      }
      handlers.set(name, fn as Handler);
    }
    if (options.authorize !== undefined && typeof options.authorize !== 'function') {
      throw new HeartlineError('INVALID_CONFIG', `server.register(${definition.name}): authorize must be a function (call) => boolean | Promise<boolean>`);
    }
    const authorizers = [this.serverAuthorize, options.authorize].filter((a): a is Authorize => a !== undefined);
    const executes = options.executes === undefined ? undefined : new ExecutionCounter(checkLimit(options.executes));
    const methods = new Map<string, ExportedMethod>();
    const exported: MutableService = {
      definition,
      version,
      group,
      instance,
      methods,
      executes,
      own,
      interceptors: [...this.serverWide, ...own],
      authorizers: authorizers.length === 0 ? undefined : Object.freeze(authorizers),
    };
    for (const [name, opts] of definition.methods) {
      const callbacks = opts.callbacks !== undefined && opts.callbacks.length > 0 ? opts.callbacks : undefined;
      methods.set(name, { service: exported, name, handler: handlers.get(name)!, callbacks, executes: methodExecutes.get(name) });
    }
    let versions = this.services.get(definition.name);
    if (versions === undefined) this.services.set(definition.name, (versions = new Map()));
    let groups = versions.get(version);
    if (groups === undefined) versions.set(version, (groups = new Map()));
    groups.set(group, exported);
    return exported;
  }

  /** Adds a server-wide interceptor (`server.use`): it runs after those added before it, before every service's own. */
  use(interceptor: ServerInterceptor): void {
    checkInterceptors([interceptor], 'server.use');
    this.serverWide = [...this.serverWide, interceptor];
    for (const s of this.each()) s.interceptors = [...this.serverWide, ...s.own];
  }

  lookup(name: string, version: string, group: string): ExportedService | undefined {
    return this.services.get(name)?.get(version)?.get(group);
  }

  /** True when some service of this name is exported (any version and group). */
  hasName(name: string): boolean {
    return this.services.has(name);
  }

  /** Every exported service, in registration order of their names. */
  all(): ExportedService[] {
    return this.each();
  }

  private each(): MutableService[] {
    return [...this.services.values()].flatMap((versions) => [...versions.values()].flatMap((groups) => [...groups.values()]));
  }
}

function checkLimit(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new HeartlineError('INVALID_CONFIG', `executes must be a positive integer, not ${n}`);
  return n;
}

function checkInterceptors(list: unknown, what: string): readonly ServerInterceptor[] {
  if (list === undefined) return [];
  if (!Array.isArray(list) || !list.every((i) => typeof i === 'function')) {
    throw new HeartlineError('INVALID_CONFIG', `${what} must be ${what === 'server.use' ? 'a function' : 'an array of functions'} (call, next) => Promise`);
  }
  return [...list] as ServerInterceptor[];
}
