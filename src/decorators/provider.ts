import { HeartlineError } from '../errors/heartline-error.js';
import { checkClassTarget } from './decorator-form.js';
import { serviceOf, type Contract } from '../contract/service-definition.js';

const PROVIDER_KEY = 'heartline:provider';

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
 * What `@Provider(Contract)` returns: a class decorator, legacy or standard,
 * that accepts only a class whose instances implement the contract `T`.
 */
export type ProviderDecorator<T> = (target: new (...args: never[]) => T, context?: ClassDecoratorContext) => void;

/**
 * Marks a class as the implementation of a contract. Register an instance with
 * `server.register(new GreeterImpl())`.
 */
export function Provider<T>(contract: Contract<T>, options: ProviderOptions = {}): ProviderDecorator<T> {
  const definition = serviceOf(contract, '@Provider'); // fail at declaration time when the contract is not a @Service
  const record: ProviderRecord = Object.freeze({ contract, options: Object.freeze({ ...options }) });
  return (target: Function, context?: unknown) => {
    checkClassTarget(`@Provider(${contract.name || definition.name})`, target, context);
    Reflect.defineMetadata(PROVIDER_KEY, record, target);
  };
}

/**
 * The `@Provider` record of an instance's class; throws INVALID_CONFIG when there
 * is none. `caller` names the API in the message (`server.register`).
 */
export function providerOf(instance: object, caller = 'providerOf'): ProviderRecord {
  const ctor: unknown = instance?.constructor;
  const record: ProviderRecord | undefined = typeof ctor === 'function' ? Reflect.getMetadata(PROVIDER_KEY, ctor) : undefined;
  if (record === undefined) {
    const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
    throw new HeartlineError(
      'INVALID_CONFIG',
      `${caller}(${name === undefined ? 'object' : `new ${name}()`}): ${name ?? 'its class'} is not a provider: decorate its class with @Provider(Contract), or call ${caller}(Contract, implementation)`,
    );
  }
  return record;
}
