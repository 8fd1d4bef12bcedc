import { CONSUMER_FIELDS_KEY } from '../consumer/client.js';
import { validateReferenceOptions } from '../consumer/client-options.js';
import type { ReferenceOptions } from '../consumer/reference.js';
import { serviceOf, type Contract } from './metadata.js';

/**
 * Marks a field to receive a stub of `contract` when `client.inject(object)` runs:
 *
 * ```ts
 * class Shop {
 *   @Consumer(Greeter, { timeout: 500 }) greeter!: Remote<Greeter>;
 * }
 * const shop = client.inject(new Shop());
 * ```
 */
export function Consumer(contract: Contract, options: ReferenceOptions = {}): (target: object, property: string | symbol) => void {
  serviceOf(contract); // fail at declaration time when the contract is not a @Service
  const frozen = validateReferenceOptions(options); // fail at declaration time on a bad option
  return (target, property) => {
    const inherited: unknown[] = Reflect.getMetadata(CONSUMER_FIELDS_KEY, target) ?? [];
    Reflect.defineMetadata(CONSUMER_FIELDS_KEY, [...inherited, { property, contract, options: frozen }], target);
  };
}
