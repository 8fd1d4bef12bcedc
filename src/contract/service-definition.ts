import 'reflect-metadata';
import { HeartlineError } from '../errors/heartline-error.js';
import { validateMethodOptions, type MethodOptions } from './method-options.js';

export type { MethodOptions } from './method-options.js';

/** Options of `@Service(name, options)`; `M` is the union of the method names (inferred from `methods`). */
export interface ServiceOptions<M extends string = string> {
  /** Service version; a call only reaches a provider of the same version. Default `''`. */
  version?: string;
  /** Service group, to run several implementations of one version side by side. Default `''`. */
  group?: string;
  /**
   * The methods of the contract, each with its options (`{}` for defaults).
   * Providers expose exactly these; nothing else can be called remotely.
   */
  methods: Record<M, MethodOptions>;
}

/** What `@Service` records about a contract class. */
export interface ServiceDefinition {
  readonly name: string;
  readonly version: string;
  readonly group: string;
  /** Declared methods and their options. Never contains prototype members. */
  readonly methods: ReadonlyMap<string, Readonly<MethodOptions>>;
}

/** Any class, abstract or not, whose instances are `T`. */
export type Contract<T = unknown> = abstract new (...args: never[]) => T;

/**
 * What a contract's instances must have for `@Service` to list methods `M`: a
 * method (abstract or not) of each name. Unchecked when the names are not known
 * at compile time (`M` is `string`).
 */
export type ServiceMethods<M extends string> = string extends M
  ? unknown
  : { [K in M]: K extends ReservedName ? { 'cannot be a remote method (reserved name)': K } : (...args: never) => unknown };

/** Names `@Service` refuses as methods (checked at run time too). */
export type ReservedName = 'constructor' | '__proto__' | 'then' | keyof Object;

export const SERVICE_KEY = 'heartline:service';

/** Names that can never be remote methods. */
const RESERVED = new Set(['constructor', '__proto__', 'then', ...Object.getOwnPropertyNames(Object.prototype)]);

const NAME = /^[A-Za-z_$][\w$.\-]*$/;

/** Validates `@Service` arguments into a frozen definition. */
export function defineService(name: string, options: ServiceOptions): ServiceDefinition {
  if (typeof name !== 'string' || !NAME.test(name)) throw new HeartlineError('INVALID_CONFIG', `invalid service name ${JSON.stringify(name)}`);
  if (options === undefined || typeof options.methods !== 'object' || options.methods === null) {
    throw new HeartlineError('INVALID_CONFIG', `@Service('${name}') must list its methods: { methods: { name: {} } }`);
  }
  const methods = new Map<string, Readonly<MethodOptions>>();
  for (const method of Object.keys(options.methods)) {
    if (RESERVED.has(method) || !NAME.test(method)) {
      throw new HeartlineError('INVALID_CONFIG', `@Service('${name}'): '${method}' cannot be a remote method`);
    }
    let m: Readonly<MethodOptions>;
    try {
      m = validateMethodOptions(`methods.${method}`, options.methods[method] ?? {});
    } catch (err) {
      throw new HeartlineError('INVALID_CONFIG', `@Service('${name}'): ${(err as Error).message}`);
    }
    methods.set(method, m);
  }
  return Object.freeze({ name, version: options.version ?? '', group: options.group ?? '', methods });
}

/**
 * The definition `@Service` recorded on `contract`; throws INVALID_CONFIG when
 * there is none. `caller` names the API in the message (`client.refer`).
 */
export function serviceOf(contract: Contract, caller?: string): ServiceDefinition {
  const def: ServiceDefinition | undefined = typeof contract === 'function' ? Reflect.getOwnMetadata(SERVICE_KEY, contract) : undefined;
  if (def === undefined) {
    const name = typeof contract === 'function' ? contract.name || 'an anonymous class' : String(contract);
    const at = caller === undefined ? '' : `${caller}(${name}): `;
    throw new HeartlineError('INVALID_CONFIG', `${at}${name} is not a service contract: decorate it with @Service(name, { methods })`);
  }
  return def;
}

/** True for names that can never be remote methods (`constructor`, `then`, `Object.prototype` members). */
export function isReservedName(name: string): boolean {
  return RESERVED.has(name);
}
