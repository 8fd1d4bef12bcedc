import { HeartlineError } from '../errors/heartline-error.js';

/*
 * Heartline's decorators run under both TypeScript decorator semantics:
 *
 *   legacy (`experimentalDecorators: true`)   class: (constructor)          field: (prototype, name, undefined)
 *   standard (TC39, TypeScript >= 5.0)        class: (constructor, context) field: (undefined, context)
 *
 * A standard decorator always gets a context object with a `kind`; a legacy one never does.
 */

/** The part of a standard decorator context that Heartline reads. */
export interface StandardContext {
  readonly kind: string;
  readonly name: string | symbol | undefined;
  readonly static?: boolean;
  readonly private?: boolean;
  addInitializer(initializer: (this: unknown) => void): void;
}

/** True when `context` is the second argument of a standard (TC39) decorator. */
export function isStandardContext(context: unknown): context is StandardContext {
  return typeof context === 'object' && context !== null && typeof (context as { kind?: unknown }).kind === 'string';
}

/**
 * Checks that a class decorator (`@Service`, `@Provider`) was applied to a class,
 * in either form; `decorator` names it in the message (`@Service('demo.Greeter')`).
 */
export function checkClassTarget(decorator: string, target: unknown, context: unknown): asserts target is Function {
  if (isStandardContext(context)) {
    if (context.kind !== 'class') throw misplaced(decorator, `a ${context.kind} (${String(context.name)})`);
  } else if (context !== undefined) {
    throw misplaced(decorator, `a member (${String(context)})`); // legacy member decorators get (prototype, name, ...)
  }
  if (typeof target !== 'function') throw misplaced(decorator, 'something that is not a class');
}

function misplaced(decorator: string, what: string): HeartlineError {
  return new HeartlineError('INVALID_CONFIG', `${decorator} decorates a class, not ${what}`);
}
