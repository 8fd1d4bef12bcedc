/**
 * The consumer's callbacks on one connection: listener functions passed as
 * arguments, each known to the provider by a u32 id. The same function passed
 * again gets the same id. Everything is released when the connection closes.
 */
export class CallbackTable {
  private readonly byId = new Map<number, Function>();
  private readonly byFn = new Map<Function, number>();
  private lastId = 0;

  get size(): number {
    return this.byId.size;
  }

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

  clear(): void {
    this.byId.clear();
    this.byFn.clear();
  }
}
