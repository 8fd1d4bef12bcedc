import { validateReferenceOptions } from '../consumer/client-options.js';
import { addInstanceField, addPrototypeField, type ConsumerField } from '../consumer/consumer-fields.js';
import type { ReferenceOptions } from '../consumer/reference.js';
import type { Remote } from '../consumer/stub.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { isStandardContext } from '../contract/decorator-form.js';
import { serviceOf, type Contract } from '../contract/service-definition.js';

/** Why TypeScript refused a `@Consumer(Contract)` field: its type does not accept `Remote<Contract>`. */
export interface ConsumerFieldTypeError<T> {
  'a @Consumer(Contract) field must be typed Remote<Contract>': Remote<T>;
}

/**
 * What `@Consumer(Contract)` returns: a field decorator, legacy or standard, that
 * accepts only a field whose type accepts `Remote<Contract>`. Under legacy
 * decorators TypeScript cannot see the type of a `private` or `protected` field,
 * so those are not checked there.
 */
export interface ConsumerDecorator<T> {
  /** Standard (TC39) decorators: `(undefined, context)`, on an instance field that is not `#private`. */
  <This, V>(
    value: undefined,
    context: ClassFieldDecoratorContext<This, V> & { readonly static: false; readonly private: false } & (Remote<T> extends V ? unknown : ConsumerFieldTypeError<T>),
  ): void;
  /** Legacy decorators (`experimentalDecorators`): `(prototype, name)`. */
  <O extends object, K extends string | symbol>(
    target: O,
    property: K & (K extends keyof O ? (Remote<T> extends O[K] ? unknown : ConsumerFieldTypeError<T>) : unknown),
  ): void;
}

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
export function Consumer<T>(contract: Contract<T>, options: ReferenceOptions = {}): ConsumerDecorator<T> {
  serviceOf(contract, '@Consumer'); // fail at declaration time when the contract is not a @Service
  const frozen = validateReferenceOptions(options); // fail at declaration time on a bad option
  const decorator = `@Consumer(${contract.name})`;
  return ((target: unknown, context: unknown, descriptor?: unknown): void => {
    if (isStandardContext(context)) {
      if (context.kind !== 'field') throw misplaced(decorator, `a ${context.kind} (${String(context.name)})`);
      if (context.static === true) throw misplaced(decorator, `a static field (${String(context.name)})`);
      if (context.private === true) throw misplaced(decorator, `a #private field (${String(context.name)}): client.inject() could not set it`);
      const field: ConsumerField = { property: context.name as string | symbol, contract, options: frozen };
      context.addInitializer(function (this: unknown) {
        addInstanceField(this as object, field);
      });
      return;
    }
    if (typeof context !== 'string' && typeof context !== 'symbol') throw misplaced(decorator, 'this target');
    if (typeof target === 'function') throw misplaced(decorator, `a static field (${String(context)})`);
    if (descriptor !== undefined) throw misplaced(decorator, `a method or accessor (${String(context)})`);
    addPrototypeField(target as object, { property: context, contract, options: frozen });
  }) as ConsumerDecorator<T>;
}

function misplaced(decorator: string, what: string): HeartlineError {
  return new HeartlineError('INVALID_CONFIG', `${decorator} decorates an instance field, not ${what}`);
}
