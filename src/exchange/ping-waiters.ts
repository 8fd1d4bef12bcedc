import { HeartlineError } from '../errors/heartline-error.js';

/** One `client.ping()` waiting for its pong. */
interface PingWaiter {
  readonly resolve: (rtt: number) => void;
  readonly reject: (err: HeartlineError) => void;
  /** Ping id it waits for; 0 while queued for the handshake. */
  id: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The pings an application asked for (`client.ping`) on one consumer
 * connection, each waiting for its pong: queued while the handshake runs (one
 * ping then goes out for all of them), then keyed by the ping id sent.
 *
 * Every waiter settles exactly once: on its pong (with the round-trip time in
 * ms), on its own timeout (TIMEOUT), when the connection closes (`failAll`),
 * or, queued, when the ping for it could not be written (`failQueued`).
 * Each waiter's timer is its own and unref'd; settling clears it first. The
 * table is bounded by the connection's outgoing ping rate (`PingGuard`) and
 * by the waiters' timeouts.
 */
export class PingWaiters {
  private queued: PingWaiter[] = [];
  /** Ping id → when it was sent (clock ms) and who waits for its pong. */
  private readonly sent = new Map<number, { at: number; waiters: PingWaiter[] }>();
  private count = 0;
  private readonly onChange: () => void;

  /** `onChange` runs after the number of waiters changed (the connection refs its socket while any wait). */
  constructor(onChange: () => void) {
    this.onChange = onChange;
  }

  /** Waiters not settled yet. */
  get size(): number {
    return this.count;
  }

  /** True when some waiter is queued for the handshake. */
  get hasQueued(): boolean {
    return this.queued.length > 0;
  }

  /**
   * A new waiter: for the pong of ping `id` (sent at `sentAt`), or queued for
   * the handshake when `id` is 0. `timeout` in ms (0: none); `timeoutError`
   * makes its error when it passes.
   */
  add(id: number, sentAt: number, timeout: number, timeoutError: () => HeartlineError): Promise<number> {
    return new Promise((resolve, reject) => {
      const w: PingWaiter = { resolve, reject, id, timer: undefined };
      if (timeout > 0) {
        w.timer = setTimeout(() => {
          w.timer = undefined;
          if (this.remove(w)) reject(timeoutError());
        }, timeout);
        w.timer.unref();
      }
      this.count++;
      if (id === 0) this.queued.push(w);
      else this.attach(id, sentAt, [w]);
      this.onChange();
    });
  }

  /** The handshake is done and ping `id` went out at `sentAt`: the queued waiters now wait for its pong. */
  sendQueued(id: number, sentAt: number): void {
    const queued = this.queued;
    this.queued = [];
    for (const w of queued) w.id = id;
    if (queued.length > 0) this.attach(id, sentAt, queued);
  }

  /** The ping for the queued waiters could not be sent: they fail with `err`. */
  failQueued(err: HeartlineError): void {
    const queued = this.queued;
    if (queued.length === 0) return;
    this.queued = [];
    for (const w of queued) this.settle(w).reject(err);
    this.onChange();
  }

  /** The pong of ping `id` arrived at `at` (clock ms): its waiters resolve with the round-trip time. */
  pong(id: number, at: number): void {
    const entry = this.sent.get(id);
    if (entry === undefined) return;
    this.sent.delete(id);
    const rtt = at - entry.at;
    for (const w of entry.waiters) this.settle(w).resolve(rtt);
    this.onChange();
  }

  /** The connection closed: every waiter fails with `err`. */
  failAll(err: HeartlineError): void {
    if (this.count === 0) return;
    const all = [...this.queued, ...[...this.sent.values()].flatMap((e) => e.waiters)];
    this.queued = [];
    this.sent.clear();
    for (const w of all) this.settle(w).reject(err);
    this.onChange();
  }

  private attach(id: number, at: number, waiters: PingWaiter[]): void {
    const entry = this.sent.get(id);
    if (entry === undefined) this.sent.set(id, { at, waiters });
    else entry.waiters.push(...waiters);
  }

  /** Takes a waiter out (its timeout passed); false when it had settled already. */
  private remove(w: PingWaiter): boolean {
    if (w.id === 0) {
      const i = this.queued.indexOf(w);
      if (i < 0) return false;
      this.queued.splice(i, 1);
    } else {
      const entry = this.sent.get(w.id);
      const i = entry === undefined ? -1 : entry.waiters.indexOf(w);
      if (i < 0) return false;
      entry!.waiters.splice(i, 1);
      if (entry!.waiters.length === 0) this.sent.delete(w.id);
    }
    this.count--;
    this.onChange();
    return true;
  }

  /** Clears a waiter's timer and counts it out; the caller then settles it. */
  private settle(w: PingWaiter): PingWaiter {
    clearTimeout(w.timer);
    w.timer = undefined;
    this.count--;
    return w;
  }
}
