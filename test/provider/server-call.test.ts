// IncomingCall (the context stage) on its own, with fake timers: the lazy
// signal, its one deadline timer, and the first-reason-wins abort.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import type { RequestBody } from '../../src/protocol/messages.js';
import { IncomingCall } from '../../src/provider/server-call.js';

function call(budget: number | undefined): IncomingCall {
  const request: RequestBody = ['s', '', '', 'm', [], null, budget];
  return new IncomingCall(1, request, { id: 3, peer: '127.0.0.1:9' }, false, performance.now());
}

describe('IncomingCall', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('deadline = receipt + budget; timeLeft counts down to 0, never below', () => {
    const c = call(100);
    expect(c.deadline - c.receivedAt).toBe(100);
    expect(c.timeLeft).toBe(100);
    vi.advanceTimersByTime(40);
    expect(c.timeLeft).toBe(60);
    vi.advanceTimersByTime(500);
    expect(c.timeLeft).toBe(0);
    expect(call(undefined).deadline).toBe(Infinity);
    expect(call(undefined).timeLeft).toBe(Infinity);
  });

  it('makes no timer until its signal is read; then one, which fires DEADLINE_EXCEEDED and is gone', () => {
    const c = call(100);
    expect(vi.getTimerCount()).toBe(0);
    const signal = c.signal;
    expect(c.signal).toBe(signal);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(99);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(HeartlineError);
    expect((signal.reason as HeartlineError).code).toBe('DEADLINE_EXCEEDED');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('no deadline, no timer', () => {
    const c = call(undefined);
    void c.signal;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('finish() clears the timer; the signal no longer fires', () => {
    const c = call(100);
    const signal = c.signal;
    expect(c.finish()).toBe(true);
    expect(c.finish()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    c.abort(new HeartlineError('CANCELLED', 'late'));
    vi.advanceTimersByTime(1000);
    expect(signal.aborted).toBe(false);
  });

  it('the first reason wins, and clears the timer', () => {
    const c = call(100);
    const signal = c.signal;
    c.abort(new HeartlineError('CANCELLED', 'cancel frame'));
    c.abort(new HeartlineError('SERVER_CLOSED', 'grace'));
    expect((signal.reason as HeartlineError).code).toBe('CANCELLED');
    expect(vi.getTimerCount()).toBe(0);
    expect(c.abandoned).toBe(true);
  });

  it('a signal first read after an abort, or after the deadline, is already aborted (and makes no timer)', () => {
    const a = call(undefined);
    a.abort(new HeartlineError('CONNECTION_LOST_WRITTEN', 'gone'));
    expect((a.signal.reason as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
    const b = call(10);
    vi.advanceTimersByTime(10);
    expect(b.abandoned).toBe(true);
    expect((b.signal.reason as HeartlineError).code).toBe('DEADLINE_EXCEEDED');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a budget past what setTimeout can wait (2^31-1 ms) is reached in steps, not at once', () => {
    const c = call(0xffffffff);
    const signal = c.signal;
    vi.advanceTimersByTime(0x7fffffff);
    expect(signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(0xffffffff - 0x7fffffff);
    expect(signal.aborted).toBe(true);
  });

  it('a budget of 0 is spent and not abandoned (it is answered); a deadline passed is abandoned', () => {
    expect(call(0).budgetSpent).toBe(true);
    expect(call(0).abandoned).toBe(false);
    const c = call(5);
    expect(c.budgetSpent).toBe(false);
    expect(c.abandoned).toBe(false);
    vi.advanceTimersByTime(5);
    expect(c.abandoned).toBe(true);
  });

  it('onAbort hears an abort once, the deadline included, and nothing after finish()', () => {
    const c = call(50);
    const heard: string[] = [];
    c.onAbort((r) => heard.push(r.code));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(50);
    c.abort(new HeartlineError('CANCELLED', 'again'));
    expect(heard).toEqual(['DEADLINE_EXCEEDED']);
    const d = call(50);
    d.onAbort((r) => heard.push(r.code));
    d.finish();
    d.abort(new HeartlineError('CANCELLED', 'late'));
    expect(heard).toEqual(['DEADLINE_EXCEEDED']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
