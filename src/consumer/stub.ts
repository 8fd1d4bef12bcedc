import { isReservedName } from '../contract/service-definition.js';
import type { Reference } from './reference.js';

/**
 * The remote view of a contract: every method returns a promise of its result.
 * Types flow from the contract class, with no code generation.
 */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

const references = new WeakMap<object, Reference>();

/** The reference behind a stub, or undefined for anything else. */
export function stubReference(stub: object): Reference | undefined {
  return references.get(stub);
}

/**
 * Builds a stub whose methods call `reference.invoke`. It needs no list of
 * method names (esbuild drops type information and abstract methods do not
 * exist at run time): any string property is a remote method, except `then`
 * (so a stub is never mistaken for a promise), `constructor`, `__proto__` and the
 * `Object.prototype` members (which keep their usual meaning).
 */
export function createStub<T>(reference: Reference): Remote<T> {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const target = Object.create(null) as object;
  const stub = new Proxy(target, {
    get(_target, prop) {
      if (typeof prop !== 'string') return prop === Symbol.toStringTag ? `Remote<${reference.definition.name}>` : undefined;
      if (isReservedName(prop)) {
        // toString, valueOf, ... behave as on any object; then, constructor and __proto__ are absent.
        return prop === 'then' || prop === 'constructor' || prop === '__proto__' ? undefined : Reflect.get(Object.prototype, prop);
      }
      let fn = methods.get(prop);
      if (fn === undefined) {
        if (reference.recaptureStacks) {
          // A failure's stack is re-captured in the rejection handler, where V8's async
          // stack trace still knows every caller awaiting this call.
          fn = (...args: unknown[]): Promise<unknown> => reference.invoke(prop, args).catch(recapture);
        } else {
          const remote = (...args: unknown[]): Promise<unknown> => reference.invoke(prop, args, remote);
          fn = remote;
        }
        methods.set(prop, fn);
      }
      return fn;
    },
    has(_target, prop) {
      return typeof prop === 'string' && reference.definition.methods.has(prop);
    },
    set() {
      return false;
    },
    ownKeys() {
      return [];
    },
  });
  references.set(stub, reference);
  return stub as Remote<T>;
}

function recapture(err: unknown): never {
  if (err instanceof Error) Error.captureStackTrace(err, recapture);
  throw err;
}
