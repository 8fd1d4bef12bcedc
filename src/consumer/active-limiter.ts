import { HeartlineError } from '../errors/heartline-error.js';

interface Waiter {
  resolve(): void;
  reject(err: HeartlineError): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Counts the calls active on one key (a provider and a method, or a provider
 * and a service) and, when the caller's `limit` is finite, caps them. Calls over the cap
 * wait in FIFO order for a slot, each within its own timeout; one that waits
 * too long fails with LIMIT_EXCEEDED (safe to retry elsewhere: it never ran).
 *
 * ```
 *  acquire --(active < limit)--> active++ ...call... release --> active-- or hand the slot to queue[0]
 *     `--(full)--> queue.push --timeout--> LIMIT_EXCEEDED
 * ```
 */
export class ActiveCounter {
  active = 0;
  private queue: Waiter[] = [];

  get waiting(): number {
    return this.queue.length;
  }

  /** Takes a slot if fewer than `limit` are active and nobody waits. */
  tryAcquire(limit: number): boolean {
    if (this.active < limit && this.queue.length === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  /** Waits up to `timeoutMs` (0 for no limit) for a slot; `limit` is for the message. */
  wait(limit: number, timeoutMs: number, label: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new HeartlineError('LIMIT_EXCEEDED', `${label}: waited ${timeoutMs} ms for one of ${limit} active slots`));
        }, timeoutMs);
      }
      this.queue.push(waiter);
    });
  }

  /** Frees a slot, handing it straight to the oldest waiter if there is one. */
  release(): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      clearTimeout(next.timer);
      next.resolve(); // the slot passes on: `active` stays the same
      return;
    }
    this.active--;
  }

  /** Fails every waiter (the provider went away). */
  failAll(err: HeartlineError): void {
    const queue = this.queue;
    this.queue = [];
    for (const w of queue) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
