import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a call being served carries into the code it runs: its deadline and
 * its signal. The provider runs each handler (and its interceptors) inside
 * the scope of its call; a consumer call made there inherits both, so a
 * deadline travels from hop to hop and cancelling a call cancels the calls it
 * made (protocol.md 4.1, README "Call context").
 */
export interface CallScope {
  /** When the call's budget runs out, on the `now()` clock (ms); Infinity for none. */
  readonly deadline: number;
  /** Fires when the call is cancelled, its deadline passes, its connection closes or its server's grace period ends. */
  readonly signal: AbortSignal;
}

const storage = new AsyncLocalStorage<CallScope>();

/** The scope of the call being served, or undefined outside any handler. */
export function currentScope(): CallScope | undefined {
  return storage.getStore();
}

/** Runs `fn(arg)` inside `scope`: the async work it starts sees `scope` through `currentScope()`. `arg` spares the caller a closure. */
export function runInScope<R>(scope: CallScope, fn: () => R): R;
export function runInScope<A, R>(scope: CallScope, fn: (arg: A) => R, arg: A): R;
export function runInScope<A, R>(scope: CallScope, fn: (arg?: A) => R, arg?: A): R {
  return storage.run(scope, fn, arg);
}
