import { HeartlineError } from '../errors/heartline-error.js';
import { PROVIDER_KEY, serviceOf, type Contract } from './metadata.js';

/** Options of `@Provider(Contract, options)` and `server.register(...)`. */
export interface ProviderOptions {
  /** Overrides the contract's version for this implementation. */
  version?: string;
  /** Overrides the contract's group for this implementation. */
  group?: string;
  /**
   * Cap on concurrent executions of this service, across all connections. Over
   * it a call is refused at once with LIMIT_EXCEEDED, before any user code runs.
   * Default none.
   */
  executes?: number;
  /** Per-method caps on concurrent executions (`{ sayHello: { executes: 10 } }`). Default none. */
  methods?: Record<string, { executes?: number }>;
}

/** What `@Provider` records on an implementation class. */
export interface ProviderRecord {
  readonly contract: Contract;
  readonly options: Readonly<ProviderOptions>;
}

/**
 * Marks a class as the implementation of a contract. Register an instance with
 * `server.register(new GreeterImpl())`.
 */
export function Provider<T>(contract: Contract<T>, options: ProviderOptions = {}): (target: new (...args: never[]) => T) => void {
  serviceOf(contract); // fail at declaration time when the contract is not a @Service
  const record: ProviderRecord = Object.freeze({ contract, options: Object.freeze({ ...options }) });
  return (target) => {
    Reflect.defineMetadata(PROVIDER_KEY, record, target);
  };
}

/** The `@Provider` record of an instance's class; throws INVALID_CONFIG when there is none. */
export function providerOf(instance: object): ProviderRecord {
  const record: ProviderRecord | undefined = Reflect.getMetadata(PROVIDER_KEY, instance.constructor);
  if (record === undefined) {
    throw new HeartlineError('INVALID_CONFIG', `${instance.constructor?.name ?? 'object'} is not a provider: decorate its class with @Provider(Contract)`);
  }
  return record;
}
