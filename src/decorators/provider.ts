import { checkClassTarget } from '../contract/decorator-form.js';
import { serviceOf, type Contract } from '../contract/service-definition.js';
import { recordProvider, type ProviderOptions, type ProviderRecord } from '../provider/provider-options.js';

export type { ProviderOptions, ProviderRecord } from '../provider/provider-options.js';
export { providerOf } from '../provider/provider-options.js';

/**
 * What `@Provider(Contract)` returns: a class decorator, legacy or standard,
 * that accepts only a class whose instances implement the contract `T`.
 */
export type ProviderDecorator<T> = (target: new (...args: never[]) => T, context?: ClassDecoratorContext) => void;

/**
 * Marks a class as the implementation of a contract. Register an instance with
 * `server.register(new GreeterImpl())`. `options.interceptors` are the
 * service's interceptors (see `ProviderOptions`).
 */
export function Provider<T>(contract: Contract<T>, options: ProviderOptions = {}): ProviderDecorator<T> {
  const definition = serviceOf(contract, '@Provider'); // fail at declaration time when the contract is not a @Service
  const record: ProviderRecord = Object.freeze({ contract, options: Object.freeze({ ...options }) });
  return (target: Function, context?: unknown) => {
    checkClassTarget(`@Provider(${contract.name || definition.name})`, target, context);
    recordProvider(target, record);
  };
}
