// The consumer's active counter: a count shared by every reference, each with its own cap and queue.
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ActiveCounter } from '../../src/consumer/active-limiter.js';
import { HeartlineError } from '../../src/index.js';

/** Starts a wait and records when (in which order) it settles. */
function waiter(c: ActiveCounter, limit: number, timeoutMs: number, order: string[], name: string): { settled: () => string | undefined } {
  let outcome: string | undefined;
  c.wait(limit, timeoutMs, 'svc#m').then(
    () => {
      outcome = 'ok';
      order.push(name);
    },
    (err: HeartlineError) => {
      outcome = err.code;
      order.push(`${name}:${err.code}`);
    },
  );
  return { settled: () => outcome };
}

const flush = (): Promise<void> => Promise.resolve().then(() => undefined);

describe('ActiveCounter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('an uncapped caller (Infinity) never waits behind capped waiters, nor does a caller with a larger cap (C4)', async () => {
    const c = new ActiveCounter();
    const order: string[] = [];
    expect(c.tryAcquire(1)).toBe(true);
    expect(c.tryAcquire(1)).toBe(false);
    waiter(c, 1, 1000, order, 'capped');
    expect(c.waiting).toBe(1);
    expect(c.tryAcquire(Infinity)).toBe(true); // before the fix: false, then "one of Infinity slots"
    expect(c.tryAcquire(5)).toBe(true);
    expect(c.active).toBe(3);
    c.release();
    c.release();
    c.release(); // active 0: the capped waiter gets its slot
    await flush();
    expect(order).toEqual(['capped']);
    expect(c.active).toBe(1);
    expect(c.waiting).toBe(0);
  });

  it('waiters of one cap are served in FIFO order', async () => {
    const c = new ActiveCounter();
    const order: string[] = [];
    c.tryAcquire(1);
    for (const name of ['a', 'b', 'c']) waiter(c, 1, 0, order, name);
    expect(c.tryAcquire(1)).toBe(false); // a newcomer never jumps its own cap's queue
    for (let i = 0; i < 3; i++) {
      c.release();
      await flush();
    }
    expect(order).toEqual(['a', 'b', 'c']);
    c.release();
    expect(c.active).toBe(0);
  });

  it('a freed slot goes to the oldest waiter whose own cap now allows it', async () => {
    const c = new ActiveCounter();
    const order: string[] = [];
    for (let i = 0; i < 3; i++) expect(c.tryAcquire(3)).toBe(true);
    waiter(c, 1, 0, order, 'small1'); // oldest, but cap 1 needs active < 1
    waiter(c, 3, 0, order, 'large');
    waiter(c, 1, 0, order, 'small2');
    c.release(); // active 2: only 'large' (cap 3) fits
    await flush();
    expect(order).toEqual(['large']);
    c.release(); // 2
    c.release(); // 1
    await flush();
    expect(order).toEqual(['large']);
    c.release(); // 0: the oldest small one
    await flush();
    expect(order).toEqual(['large', 'small1']);
    c.release();
    await flush();
    expect(order).toEqual(['large', 'small1', 'small2']);
    c.release();
    expect(c.active).toBe(0);
    expect(c.waiting).toBe(0);
  });

  it('a waiter that times out fails LIMIT_EXCEEDED naming its own cap and never takes a slot', async () => {
    const c = new ActiveCounter();
    const order: string[] = [];
    c.tryAcquire(2);
    c.tryAcquire(2);
    const w = waiter(c, 2, 100, order, 'late');
    const err = c.wait(2, 50, 'svc#m').catch((e: HeartlineError) => e);
    vi.advanceTimersByTime(60);
    expect(((await err) as HeartlineError).message).toBe('svc#m: waited 50 ms for one of 2 active slots');
    vi.advanceTimersByTime(50);
    await flush();
    expect(w.settled()).toBe('LIMIT_EXCEEDED');
    expect(c.waiting).toBe(0);
    c.release();
    c.release();
    expect(c.active).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('failAll rejects every waiter, oldest first, and clears their timers', async () => {
    const c = new ActiveCounter();
    const order: string[] = [];
    c.tryAcquire(1);
    waiter(c, 1, 1000, order, 'a');
    waiter(c, 1, 0, order, 'b');
    waiter(c, 1, 1000, order, 'c');
    c.failAll(new HeartlineError('CLIENT_CLOSED', 'closed'));
    await flush();
    expect(order).toEqual(['a:CLIENT_CLOSED', 'b:CLIENT_CLOSED', 'c:CLIENT_CLOSED']);
    expect(c.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a long queue of one cap behind a blocked cap is served in linear time', async () => {
    const c = new ActiveCounter();
    let served = 0;
    for (let i = 0; i < 2; i++) c.tryAcquire(2);
    for (let i = 0; i < 20_000; i++) void c.wait(1, 0, 'svc#m').then(() => served++);
    for (let i = 0; i < 20_000; i++) void c.wait(2, 0, 'svc#m').then(() => served++);
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) c.release(); // each goes to the next cap-2 waiter
    expect(performance.now() - started).toBeLessThan(1000);
    await flush();
    expect(served).toBe(20_000);
  });

  it('a signal ends the wait with CANCELLED, takes no slot, and leaves no listener; an aborted one never waits', async () => {
    const c = new ActiveCounter();
    expect(c.tryAcquire(1)).toBe(true);
    const controller = new AbortController();
    const cancelled = (): HeartlineError => new HeartlineError('CANCELLED', 'svc#m: cancelled by its signal');
    const waiting = c.wait(1, 1000, 'svc#m', controller.signal, cancelled).then(() => 'ok', (err: HeartlineError) => err.code);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(await waiting).toBe('CANCELLED');
    expect(c.waiting).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    c.release();
    expect(c.active).toBe(0);
    expect(await c.wait(1, 1000, 'svc#m', AbortSignal.abort(), cancelled).then(() => 'ok', (err: HeartlineError) => err.code)).toBe('CANCELLED');
    expect(c.waiting).toBe(0);
    // A waiter served by a release also stops listening.
    expect(c.tryAcquire(1)).toBe(true);
    const other = new AbortController();
    const served = c.wait(1, 1000, 'svc#m', other.signal);
    c.release();
    await served;
    expect(c.active).toBe(1);
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  });
});
