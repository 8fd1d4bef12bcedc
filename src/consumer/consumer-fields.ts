import 'reflect-metadata';
import type { Contract } from '../contract/service-definition.js';
import type { ReferenceOptions } from './reference.js';

/** One `@Consumer` field: `client.inject()` sets it to a stub of `contract`. */
export interface ConsumerField {
  readonly property: string | symbol;
  readonly contract: Contract;
  readonly options: Readonly<ReferenceOptions>;
}

const CONSUMER_FIELDS_KEY = 'heartline:consumers';

/**
 * Fields recorded per instance by standard (TC39) field decorators. TypeScript
 * passes them `context.metadata` only when `Symbol.metadata` exists, which Node 20
 * lacks, so the decorator adds an initializer that records the field on each
 * new instance instead.
 */
const instanceFields = new WeakMap<object, ConsumerField[]>();

/** Legacy decorators: records `field` on the class prototype (inherited by subclasses, never leaked to the parent). */
export function addPrototypeField(prototype: object, field: ConsumerField): void {
  const inherited: ConsumerField[] = Reflect.getMetadata(CONSUMER_FIELDS_KEY, prototype) ?? [];
  Reflect.defineMetadata(CONSUMER_FIELDS_KEY, [...inherited, field], prototype);
}

/** Standard decorators: records `field` on a new instance (run from the field's initializer). */
export function addInstanceField(instance: object, field: ConsumerField): void {
  const fields = instanceFields.get(instance);
  if (fields === undefined) instanceFields.set(instance, [field]);
  else fields.push(field);
}

/**
 * The `@Consumer` fields of `target`, from either kind of decorator, one per
 * property: a subclass that declares a field again wins over its parent (its
 * record comes last), so `client.inject()` makes one stub per field.
 */
export function consumerFieldsOf(target: object): readonly ConsumerField[] {
  const legacy: ConsumerField[] | undefined = Reflect.getMetadata(CONSUMER_FIELDS_KEY, target);
  const standard = instanceFields.get(target);
  const all = standard === undefined ? (legacy ?? []) : legacy === undefined ? standard : [...legacy, ...standard];
  if (all.length < 2) return all;
  const byProperty = new Map<string | symbol, ConsumerField>();
  for (const field of all) {
    byProperty.delete(field.property); // keep the last one, in the position of the last
    byProperty.set(field.property, field);
  }
  return [...byProperty.values()];
}
