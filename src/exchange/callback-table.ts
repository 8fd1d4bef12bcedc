import { HeartlineError } from '../errors/heartline-error.js';
import { errorResponse, runHandler, type Outcome } from './responder.js';

/** Live callback functions per connection when no cap is given. */
export const DEFAULT_MAX_CALLBACKS = 1000;

/**
 * The consumer's callbacks on one connection: listener functions passed as
 * arguments, each known to the provider by a u32 id. The same function passed
 * again gets the same id. At most `max` functions are registered at once; a
 * call that would register more fails before it is sent. Everything is
 * released when the connection closes.
 */
export class CallbackTable {
  private readonly byId = new Map<number, Function>();
  private readonly byFn = new Map<Function, number>();
  private readonly max: number;
  private lastId = 0;

  constructor(max = DEFAULT_MAX_CALLBACKS) {
    this.max = max;
  }

  /** Functions registered now. */
  get size(): number {
    return this.byId.size;
  }

  /**
   * The ids of `fns` (the callback arguments of one call), registering those
   * seen for the first time. All or nothing: when the new ones would pass the
   * cap, none is registered and LIMIT_EXCEEDED is thrown.
   */
  registerAll(fns: readonly Function[], added?: Function[]): number[] {
    let fresh = 0;
    for (let i = 0; i < fns.length; i++) {
      const fn = fns[i]!;
      if (!this.byFn.has(fn) && fns.indexOf(fn) === i) fresh++;
    }
    if (fresh > 0 && this.byId.size + fresh > this.max) throw this.overCap();
    return fns.map((fn) => {
      if (added !== undefined && !this.byFn.has(fn)) added.push(fn);
      return this.register(fn);
    });
  }

  /** The id of `fn`, registering it on first use (over the cap: LIMIT_EXCEEDED). */
  register(fn: Function): number {
    let id = this.byFn.get(fn);
    if (id === undefined) {
      if (this.byId.size >= this.max) throw this.overCap();
      do {
        this.lastId = this.lastId >= 0xffffffff ? 1 : this.lastId + 1;
      } while (this.byId.has(this.lastId));
      id = this.lastId;
      this.byId.set(id, fn);
      this.byFn.set(fn, id);
    }
    return id;
  }

  private overCap(): HeartlineError {
    return new HeartlineError(
      'LIMIT_EXCEEDED',
      `${this.byId.size} callbacks are registered on this connection, the cap is ${this.max} (maxCallbacks); release the ones no longer needed with client.releaseCallback(fn)`,
    );
  }

  get(id: number): Function | undefined {
    return this.byId.get(id);
  }

  /** Forgets `fn`; later pushes to it are answered CALLBACK_RELEASED. Returns its id, or undefined if it was not registered. */
  release(fn: Function): number | undefined {
    const id = this.byFn.get(fn);
    if (id === undefined) return undefined;
    this.byFn.delete(fn);
    this.byId.delete(id);
    return id;
  }

  /**
   * Serves a provider's push: `value` is the decoded body `[callbackId, args]`.
   * `done` gets the response exactly once: the listener's outcome, BAD_REQUEST
   * for a malformed body, or CALLBACK_RELEASED for an unknown id.
   */
  serve(value: unknown, done: (outcome: Outcome) => void): void {
    if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'number' || !Array.isArray(value[1])) {
      done(errorResponse('BAD_REQUEST', 'a callback request is [callbackId, args]'));
      return;
    }
    const fn = this.byId.get(value[0]);
    if (fn === undefined) {
      done(errorResponse('CALLBACK_RELEASED', `callback ${value[0]} is not registered on this connection`));
      return;
    }
    runHandler(fn, undefined, value[1] as unknown[], false, done);
  }

  clear(): void {
    this.byId.clear();
    this.byFn.clear();
  }
}
