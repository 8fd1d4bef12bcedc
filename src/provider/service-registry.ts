import { serviceOf, type Contract, type ServiceDefinition } from '../contract/service-definition.js';
import type { ProviderOptions } from '../decorators/provider.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ExecutionCounter } from './execution-limits.js';

type Handler = (...args: unknown[]) => unknown;

/** One exported service: an instance and the methods its contract declares. */
export interface ExportedService {
  readonly definition: ServiceDefinition;
  readonly version: string;
  readonly group: string;
  readonly instance: object;
  /** Declared methods only; a Map, so prototype members can never be found. */
  readonly methods: ReadonlyMap<string, Handler>;
  /** Argument positions that carry callback ids, per method. */
  readonly callbacks: ReadonlyMap<string, readonly number[]>;
  /** The service's `executes` cap, if any. */
  readonly executes: ExecutionCounter | undefined;
  /** Per-method `executes` caps. */
  readonly methodExecutes: ReadonlyMap<string, ExecutionCounter>;
}

/**
 * The services a server exports, keyed by (service, version, group). Only the
 * methods a contract lists are callable, and each must be implemented.
 */
export class ServiceRegistry {
  /** name -> version -> group -> service: nested maps, so a lookup builds no key string. */
  private readonly services = new Map<string, Map<string, Map<string, ExportedService>>>();

  register(contract: Contract, instance: object, options: ProviderOptions = {}): ExportedService {
    const definition = serviceOf(contract, 'server.register');
    const version = options.version ?? definition.version;
    const group = options.group ?? definition.group;
    if (this.lookup(definition.name, version, group) !== undefined) {
      throw new HeartlineError('INVALID_CONFIG', `service ${definition.name} version '${version}' group '${group}' is already registered`);
    }
    const methods = new Map<string, Handler>();
    const callbacks = new Map<string, readonly number[]>();
    const methodExecutes = new Map<string, ExecutionCounter>();
    for (const name of Object.keys(options.methods ?? {})) {
      if (!definition.methods.has(name)) throw new HeartlineError('INVALID_CONFIG', `${definition.name} declares no method '${name}'`);
      const limit = options.methods![name]!.executes;
      if (limit !== undefined) methodExecutes.set(name, new ExecutionCounter(checkLimit(limit)));
    }
    for (const [name, opts] of definition.methods) {
      const fn: unknown = (instance as Record<string, unknown>)[name];
      if (typeof fn !== 'function') {
        const by = instance.constructor?.name;
        throw new HeartlineError('INVALID_CONFIG', `server.register: ${definition.name}.${name} is declared by the contract but not implemented${by ? ` by ${by}` : ''}`);
      }
      methods.set(name, fn as Handler);
      if (opts.callbacks !== undefined && opts.callbacks.length > 0) callbacks.set(name, opts.callbacks);
    }
    const executes = options.executes === undefined ? undefined : new ExecutionCounter(checkLimit(options.executes));
    const exported: ExportedService = { definition, version, group, instance, methods, callbacks, executes, methodExecutes };
    let versions = this.services.get(definition.name);
    if (versions === undefined) this.services.set(definition.name, (versions = new Map()));
    let groups = versions.get(version);
    if (groups === undefined) versions.set(version, (groups = new Map()));
    groups.set(group, exported);
    return exported;
  }

  lookup(name: string, version: string, group: string): ExportedService | undefined {
    return this.services.get(name)?.get(version)?.get(group);
  }

  /** Every exported service, in registration order of their names. */
  all(): ExportedService[] {
    return [...this.services.values()].flatMap((versions) => [...versions.values()].flatMap((groups) => [...groups.values()]));
  }

}

function checkLimit(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new HeartlineError('INVALID_CONFIG', `executes must be a positive integer, not ${n}`);
  return n;
}
