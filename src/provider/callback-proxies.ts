import { callGuarded } from '../transport/guarded.js';
import { silentLogger, type Logger } from '../transport/logger.js';
import { HeartlineError } from '../errors/heartline-error.js';

/** What a provider-side callback can do besides being called. */
export interface CallbackHandle {
  /** True once the callback can no longer be called (connection closed, or released by either side). */
  readonly released: boolean;
  /** Stops using the callback here; later calls reject with CALLBACK_RELEASED. Idempotent. */
  release(): void;
  /** Runs `listener` once when the callback is released (at once if it already is). */
  onRelease(listener: () => void): void;
}

/**
 * A consumer's callback as the provider's handler receives it: calling it
 * pushes a request to the consumer over the same connection and resolves with
 * the listener's return value.
 */
export type Callback<F extends (...args: never[]) => unknown = (...args: unknown[]) => unknown> = ((
  ...args: Parameters<F>
) => Promise<Awaited<ReturnType<F>>>) &
  CallbackHandle;

/** Sends one push; implemented by the connection. */
export type PushFn = (callbackId: number, args: unknown[]) => Promise<unknown>;

interface ProxyState {
  released: boolean;
  listeners: Array<() => void>;
}

/** The table of a connection without callbacks: always empty (only `get` adds, and it makes a table first). */
const NO_PROXIES = new Map<number, never>();

/**
 * The provider-side functions standing for one connection's consumer
 * callbacks, one per callback id (the same id always gives the same function,
 * so a handler can find a subscriber again). Closing the connection releases
 * them all, so no listener outlives its connection. At most `limit` are live
 * at once; the dispatcher asks `hasRoomFor` before any user code runs.
 */
export class CallbackProxies {
  /** Live proxies by id; the shared empty table (never written) until the first one, so that idle connections hold no table. */
  private proxies: Map<number, { fn: Callback; state: ProxyState }> = NO_PROXIES;
  private readonly push: PushFn;
  private closed = false;
  /** Most live callbacks at once (`maxCallbacks`). */
  readonly limit: number;
  /** Where a throwing `onRelease` listener is reported. */
  private readonly logger: Logger;

  constructor(push: PushFn, limit = Infinity, logger: Logger = silentLogger) {
    this.push = push;
    this.limit = limit;
    this.logger = logger;
  }

  /** Live callbacks. */
  get size(): number {
    return this.proxies.size;
  }

  /** True when the callbacks `ids` (known or new) fit under the limit. */
  hasRoomFor(ids: readonly number[]): boolean {
    let added = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // New ids count once each, however often a call repeats them.
      if (!this.proxies.has(id) && ids.indexOf(id) === i) added++;
    }
    return this.proxies.size + added <= this.limit;
  }

  /** The function for callback `id`. */
  get(id: number): Callback {
    const existing = this.proxies.get(id);
    if (existing !== undefined && !existing.state.released) return existing.fn;
    const state: ProxyState = { released: this.closed, listeners: [] };
    const release = (): void => {
      if (state.released) return;
      state.released = true;
      if (this.proxies.get(id)?.state === state) this.proxies.delete(id);
      for (const listener of state.listeners.splice(0)) callGuarded(this.logger, `an onRelease listener of callback ${id}`, listener);
    };
    const fn = ((...args: unknown[]) => {
      if (state.released) return Promise.reject(new HeartlineError('CALLBACK_RELEASED', `callback ${id} was released`));
      return this.push(id, args).catch((err: unknown) => {
        if (err instanceof HeartlineError && (err.code === 'CALLBACK_RELEASED' || err.code === 'CONNECTION_LOST_WRITTEN' || err.code === 'CONNECTION_LOST_UNWRITTEN')) release();
        throw err;
      });
    }) as Callback;
    Object.defineProperties(fn, {
      released: { get: () => state.released },
      release: { value: release },
      onRelease: {
        value: (listener: () => void) => (state.released ? callGuarded(this.logger, `an onRelease listener of callback ${id}`, listener) : state.listeners.push(listener)),
      },
    });
    if (this.closed) return fn;
    if (this.proxies === NO_PROXIES) this.proxies = new Map();
    this.proxies.set(id, { fn, state });
    return fn;
  }

  /** Releases callback `id` (the consumer sent Release); an unknown id is ignored. */
  release(id: number): void {
    this.proxies.get(id)?.fn.release();
  }

  /** Releases every callback (the connection closed). */
  releaseAll(): void {
    this.closed = true;
    for (const { fn } of [...this.proxies.values()]) fn.release();
    this.proxies.clear();
  }
}
