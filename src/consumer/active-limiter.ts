import { HeartlineError } from '../errors/heartline-error.js';
import { unwatchAbort, watchAbort, type AbortWatcher } from '../exchange/abort-watch.js';

/** One call waiting for a slot; the watcher of its signal (abort-watch.ts) until the wait ends. */
class Waiter implements AbortWatcher {
  timer: NodeJS.Timeout | undefined;
  /** Timed out or failed: skipped when it reaches the head of its queue. */
  gone = false;
  /** Set while waiting: ends the wait with `err` (timeout or signal). */
  leave: ((err: HeartlineError) => void) | undefined;
  constructor(
    readonly resolve: () => void,
    readonly reject: (err: HeartlineError) => void,
    /** The waiting call's signal, watched until the wait ends. */
    readonly signal: AbortSignal | undefined,
    readonly cancelled: (() => HeartlineError) | undefined,
    readonly label: string,
    /** Arrival order across every cap of the counter. */
    readonly seq: number,
  ) {}

  onAbort(): void {
    this.leave?.(this.cancelled?.() ?? new HeartlineError('CANCELLED', `${this.label}: cancelled while waiting for an active slot`));
  }
}

/** A FIFO of waiters: push at the tail, take at the head, no O(n) shift. */
class WaiterQueue {
  private items: Waiter[] = [];
  private head = 0;
  /** Waiters still waiting (not gone). */
  live = 0;

  push(w: Waiter): void {
    this.items.push(w);
    this.live++;
  }

  /** The oldest waiter still waiting. */
  peek(): Waiter | undefined {
    while (this.head < this.items.length && this.items[this.head]!.gone) this.head++;
    if (this.head > 32 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }

  shift(): Waiter | undefined {
    const w = this.peek();
    if (w !== undefined) {
      this.head++;
      this.live--;
    }
    return w;
  }

  drain(): Waiter[] {
    const out = this.items.slice(this.head).filter((w) => !w.gone);
    this.items = [];
    this.head = 0;
    this.live = 0;
    return out;
  }
}

/**
 * Counts the calls active on one key (a provider and a method, or a provider
 * and a service) from every reference of the client, and lets each reference
 * cap them with its own `limit` (its `actives` / `serviceActives`). A call
 * over its own cap waits, within its own timeout; one that waits too long
 * fails with LIMIT_EXCEEDED (safe to retry elsewhere: it never ran).
 *
 * The count is shared, the caps and queues are not: a reference without a cap
 * never waits behind another reference's waiters, and a reference with a
 * larger cap is not held back by one with a smaller cap. Waiters are kept in
 * one FIFO queue per cap value (all waiters of one reference and key have the
 * same cap, so a reference's calls stay in FIFO order). A freed slot goes to
 * the oldest waiter, across queues, whose own cap now allows it.
 *
 * ```
 *  acquire --(active < limit)--> active++ ...call... release --> active--
 *     |                                                             |
 *     `--(active >= limit)--> queues[limit].push                    v
 *                                 |           oldest head of the queues with limit > active:
 *                                 |           active++, it runs
 *                                 `--timeout--> LIMIT_EXCEEDED
 * ```
 *
 * Invariant: after every step no waiter has `limit > active` (it would have
 * been served), so `tryAcquire` needs no look at the queues.
 */
export class ActiveCounter {
  active = 0;
  private readonly queues = new Map<number, WaiterQueue>();
  private waitingCount = 0;
  private seq = 0;

  /** Calls waiting for a slot, across every cap. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Takes a slot if fewer than `limit` are active (no waiter of the same cap can be ahead: see the invariant). */
  tryAcquire(limit: number): boolean {
    if (this.active < limit) {
      this.active++;
      return true;
    }
    return false;
  }

  /**
   * Waits up to `timeoutMs` (0 for no limit) for a slot under `limit` (finite:
   * an uncapped call never waits). When `signal` fires first, the wait ends
   * with CANCELLED (from `cancelled()`) and takes no slot.
   */
  wait(limit: number, timeoutMs: number, label: string, signal?: AbortSignal, cancelled?: () => HeartlineError): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(cancelled?.() ?? new HeartlineError('CANCELLED', `${label}: cancelled`));
        return;
      }
      const waiter = new Waiter(resolve, reject, signal, cancelled, label, this.seq++);
      let queue = this.queues.get(limit);
      if (queue === undefined) {
        queue = new WaiterQueue();
        this.queues.set(limit, queue);
      }
      const q = queue;
      const leave = (err: HeartlineError): void => {
        if (waiter.gone) return;
        waiter.gone = true;
        q.live--;
        this.waitingCount--;
        if (q.live === 0 && this.queues.get(limit) === q) this.queues.delete(limit);
        clearTimeout(waiter.timer);
        stopListening(waiter);
        reject(err);
      };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => leave(new HeartlineError('LIMIT_EXCEEDED', `${label}: waited ${timeoutMs} ms for one of ${limit} active slots`)), timeoutMs);
        // A waiter exists only while calls hold the slots, and a call in flight holds its connection's socket ref'd.
        waiter.timer.unref();
      }
      waiter.leave = leave;
      if (signal !== undefined) watchAbort(signal, waiter);
      q.push(waiter);
      this.waitingCount++;
    });
  }

  /** Frees a slot; the oldest waiter whose cap now allows it takes it. */
  release(): void {
    this.active--;
    if (this.waitingCount === 0) return;
    let best: WaiterQueue | undefined;
    let bestLimit = 0;
    let bestSeq = Infinity;
    for (const [limit, q] of this.queues) {
      if (limit <= this.active) continue;
      const head = q.peek();
      if (head !== undefined && head.seq < bestSeq) {
        best = q;
        bestLimit = limit;
        bestSeq = head.seq;
      }
    }
    if (best === undefined) return;
    const next = best.shift()!;
    this.waitingCount--;
    if (best.live === 0) this.queues.delete(bestLimit);
    clearTimeout(next.timer);
    stopListening(next);
    this.active++;
    next.resolve();
  }

  /** Fails every waiter (the client closed), each with its own copy of `err` naming its call. */
  failAll(err: HeartlineError): void {
    const waiters: Waiter[] = [];
    for (const q of this.queues.values()) waiters.push(...q.drain());
    this.queues.clear();
    this.waitingCount = 0;
    waiters.sort((a, b) => a.seq - b.seq);
    for (const w of waiters) {
      w.gone = true;
      clearTimeout(w.timer);
      stopListening(w);
      w.reject(new HeartlineError(err.code, `${w.label}: ${err.message}`, { cause: err }));
    }
  }
}

function stopListening(w: Waiter): void {
  w.leave = undefined;
  if (w.signal !== undefined) unwatchAbort(w.signal, w);
}
