import { isReservedName } from '../contract/service-definition.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { validateCallOptions, type ValidCallOptions } from './call-options.js';
import { markCall } from './call-events.js';
import type { CallOptions } from './client-interceptor.js';
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
/** The call options of a view made by `withOptions`. */
const viewOptions = new WeakMap<object, ValidCallOptions>();

/** The reference behind a stub, or undefined for anything else. */
export function stubReference(stub: object): Reference | undefined {
  return references.get(stub);
}

/**
 * A view of `stub` whose calls carry `options`: the same methods, with the
 * same types, each call with its own signal, timeout and attachments.
 *
 * ```ts
 * const greeting = await withOptions(greeter, { signal, timeout: 500 }).sayHello('Ann');
 * ```
 *
 * - `signal`: aborting it rejects the call at once with CANCELLED; a call
 *   already written is followed by a Cancel frame; a signal already aborted
 *   sends nothing.
 * - `timeout` (ms; 0 for none) replaces the method's; inside a handler the
 *   call still gives up at the served call's deadline.
 * - `attachments` are merged over the reference's.
 *
 * A view of a view merges its options over the first one's. The plain stub is
 * unchanged. Options are checked once, here (INVALID_CONFIG), as is `stub`
 * (INVALID_CONFIG when it is not a stub).
 */
export function withOptions<S extends object>(stub: S, options: CallOptions): S {
  const reference = references.get(stub);
  if (reference === undefined) throw new HeartlineError('INVALID_CONFIG', 'withOptions(stub, options): stub must be a stub made by client.refer() or client.inject()');
  const valid = validateCallOptions(options);
  const before = viewOptions.get(stub);
  const merged: ValidCallOptions =
    before === undefined
      ? valid
      : Object.freeze({
          signal: valid.signal ?? before.signal,
          timeout: valid.timeout ?? before.timeout,
          attachments: valid.attachments === undefined ? before.attachments : before.attachments === undefined ? valid.attachments : Object.freeze({ ...before.attachments, ...valid.attachments }),
        });
  const view = createStub<S>(reference, merged);
  viewOptions.set(view, merged);
  return view as S;
}

/**
 * Builds a stub whose methods call `reference.invoke`. It needs no list of
 * method names (esbuild drops type information and abstract methods do not
 * exist at run time): any string property is a remote method, except `then`
 * (so a stub is never mistaken for a promise), `constructor`, `__proto__` and the
 * `Object.prototype` members (which keep their usual meaning).
 */
export function createStub<T>(reference: Reference, options?: ValidCallOptions): Remote<T> {
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
        fn = remoteMethod(reference, prop, options);
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

/**
 * The function behind `stub[method]`, made once per stub and method. With
 * `stackTraces: 'async'` its rejection handler re-captures the stack, where
 * V8's async stack trace still knows every caller awaiting this call
 * (`reference.invoke` has named the call on the error, `err.call`).
 */
function remoteMethod(reference: Reference, method: string, options: ValidCallOptions | undefined): (...args: unknown[]) => Promise<unknown> {
  const label = `${reference.definition.name}#${method}`;
  if (reference.recaptureStacks) {
    const recapture = (err: unknown): never => {
      markCall(err, label);
      if (err instanceof Error) Error.captureStackTrace(err, recapture);
      throw err;
    };
    return (...args: unknown[]): Promise<unknown> => reference.invoke(method, args, undefined, options).catch(recapture);
  }
  // reference.invoke names the call on its failures (err.call) itself: no handler, so no promise more per call.
  const remote = (...args: unknown[]): Promise<unknown> => reference.invoke(method, args, remote, options);
  return remote;
}
