/**
 * An interceptor (a filter, in Dubbo's words): it sees a call, may change it,
 * short-circuit it (return a result or throw without calling `next`), and
 * observes its result, error and latency. The onion model: the first
 * interceptor is the outermost.
 */
export type Interceptor<C> = (call: C, next: (call?: C) => Promise<unknown>) => Promise<unknown>;

/**
 * Composes `interceptors` around `terminal` into one function. With no
 * interceptor it is `terminal` itself: the call path pays nothing. `next()`
 * without an argument passes the call on unchanged; calling it twice from one
 * interceptor runs the rest of the chain twice (a retry interceptor may). A
 * synchronous throw in an interceptor becomes a rejection.
 */
export function composeInterceptors<C>(interceptors: readonly Interceptor<C>[], terminal: (call: C) => Promise<unknown>): (call: C) => Promise<unknown> {
  if (interceptors.length === 0) return terminal;
  const list = [...interceptors];
  const step = (i: number, call: C): Promise<unknown> => {
    if (i === list.length) return terminal(call);
    const interceptor = list[i]!;
    try {
      return Promise.resolve(interceptor(call, (next?: C) => step(i + 1, next === undefined ? call : next)));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return (call) => step(0, call);
}
