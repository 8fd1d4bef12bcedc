import { errorResponse, runHandler, type Outcome } from './responder.js';

/**
 * The consumer's callbacks on one connection: listener functions passed as
 * arguments, each known to the provider by a u32 id. The same function passed
 * again gets the same id. Everything is released when the connection closes.
 */
export class CallbackTable {
  private readonly byId = new Map<number, Function>();
  private readonly byFn = new Map<Function, number>();
  private lastId = 0;

  /** The id of `fn`, registering it on first use. */
  register(fn: Function): number {
    let id = this.byFn.get(fn);
    if (id === undefined) {
      do {
        this.lastId = this.lastId >= 0xffffffff ? 1 : this.lastId + 1;
      } while (this.byId.has(this.lastId));
      id = this.lastId;
      this.byId.set(id, fn);
      this.byFn.set(fn, id);
    }
    return id;
  }

  get(id: number): Function | undefined {
    return this.byId.get(id);
  }

  /** Forgets `fn`; later pushes to it are answered CALLBACK_RELEASED. Returns true if it was registered. */
  release(fn: Function): boolean {
    const id = this.byFn.get(fn);
    if (id === undefined) return false;
    this.byFn.delete(fn);
    this.byId.delete(id);
    return true;
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
