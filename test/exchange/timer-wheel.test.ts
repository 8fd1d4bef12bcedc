// Unit tests of the timer wheel (src/exchange/timer-wheel.ts) with fake timers: no real time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimerWheel, WheelEntry } from '../../src/exchange/timer-wheel.js';

/** An entry that records when it fired, and may reschedule or throw. */
class Probe extends WheelEntry {
  readonly fired: number[] = [];
  onFire: ((t: number) => void) | undefined;
  fire(t: number): void {
    this.fired.push(t);
    this.onFire?.(t);
  }
}

describe('TimerWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance', 'Date'] });
  });

  afterEach(() => {
    vi.clearAllTimers();
    vi.useRealTimers();
  });

  it('fires each entry once, never early and at most one resolution late, with one timer for all', () => {
    const wheel = new TimerWheel(100);
    const t0 = performance.now();
    const probes = [250, 1000, 1000, 3001].map((d) => {
      const p = new Probe();
      wheel.schedule(p, t0 + d);
      return { p, d };
    });
    expect(vi.getTimerCount()).toBe(1);
    expect(wheel.size).toBe(4);
    vi.advanceTimersByTime(5000);
    for (const { p, d } of probes) {
      expect(p.fired).toHaveLength(1);
      expect(p.fired[0]! - t0).toBeGreaterThanOrEqual(d);
      expect(p.fired[0]! - t0).toBeLessThanOrEqual(d + 100);
    }
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // an empty wheel holds no timer
  });

  it('wakes only for ticks that have entries (an idle wheel does not tick)', () => {
    const wheel = new TimerWheel(100);
    const p = new Probe();
    wheel.schedule(p, performance.now() + 60_000);
    const fired = vi.advanceTimersToNextTimer();
    expect(fired).toBeDefined();
    expect(p.fired).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancel unschedules (idempotent); cancelling the last entry clears the timer', () => {
    const wheel = new TimerWheel(10);
    const a = new Probe();
    const b = new Probe();
    const t0 = performance.now();
    wheel.schedule(a, t0 + 50);
    wheel.schedule(b, t0 + 50);
    wheel.cancel(a);
    wheel.cancel(a);
    expect(wheel.size).toBe(1);
    vi.advanceTimersByTime(100);
    expect(a.fired).toEqual([]);
    expect(b.fired).toHaveLength(1);
    wheel.schedule(a, performance.now() + 50);
    wheel.cancel(a);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('schedule moves an entry already scheduled (it fires once, at the new time)', () => {
    const wheel = new TimerWheel(1);
    const p = new Probe();
    const t0 = performance.now();
    wheel.schedule(p, t0 + 500);
    wheel.schedule(p, t0 + 100);
    vi.advanceTimersByTime(1000);
    expect(p.fired.map((t) => t - t0)).toEqual([100]);
  });

  it('an earlier entry re-arms the timer earlier', () => {
    const wheel = new TimerWheel(1);
    const late = new Probe();
    const early = new Probe();
    const t0 = performance.now();
    wheel.schedule(late, t0 + 10_000);
    wheel.schedule(early, t0 + 20);
    vi.advanceTimersByTime(20);
    expect(early.fired.map((t) => t - t0)).toEqual([20]);
    expect(late.fired).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('an entry rescheduling itself from fire() for now lands in a later tick (no endless loop)', () => {
    const wheel = new TimerWheel(10);
    const p = new Probe();
    p.onFire = (t) => {
      if (p.fired.length < 3) wheel.schedule(p, t);
    };
    wheel.schedule(p, performance.now());
    vi.advanceTimersByTime(100);
    expect(p.fired).toHaveLength(3);
    expect(new Set(p.fired).size).toBe(3); // three different ticks
  });

  it('after a stall, every overdue tick runs in the one late firing, oldest first', () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }); // the clock is real: the loop below stalls it
    const wheel = new TimerWheel(1);
    const order: number[] = [];
    const t0 = performance.now();
    for (const d of [30, 10, 20]) {
      const p = new Probe();
      p.onFire = () => order.push(d);
      wheel.schedule(p, t0 + d);
    }
    while (performance.now() < t0 + 50); // the event loop is blocked past all three deadlines
    vi.advanceTimersToNextTimer(); // the wheel's one timer fires, late
    expect(order).toEqual([10, 20, 30]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an entry that throws does not stop the others; the wheel stays consistent and rethrows', () => {
    const wheel = new TimerWheel(10);
    const bad = new Probe();
    bad.onFire = () => {
      throw new Error('boom');
    };
    const good = new Probe();
    const later = new Probe();
    const t0 = performance.now();
    wheel.schedule(bad, t0 + 50);
    wheel.schedule(good, t0 + 50);
    wheel.schedule(later, t0 + 500);
    expect(() => vi.advanceTimersByTime(60)).toThrow('boom');
    expect(good.fired).toHaveLength(1);
    expect(wheel.size).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(later.fired).toHaveLength(1);
  });

  it('stop() clears the timer and every entry (idempotent); scheduling again starts it again', () => {
    const wheel = new TimerWheel(10);
    const ps = Array.from({ length: 5 }, () => new Probe());
    ps.forEach((p, i) => wheel.schedule(p, performance.now() + 10 * (i + 1)));
    wheel.stop();
    wheel.stop();
    expect(wheel.size).toBe(0);
    expect(wheel.armed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(ps.every((p) => p.fired.length === 0)).toBe(true);
    wheel.cancel(ps[0]!); // unscheduled by stop: a no-op
    expect(wheel.size).toBe(0);
    wheel.schedule(ps[0]!, performance.now() + 10);
    vi.advanceTimersByTime(20);
    expect(ps[0]!.fired).toHaveLength(1);
  });

  it('its timer is unref\'d: it never keeps the process alive', () => {
    vi.useRealTimers();
    const wheel = new TimerWheel(10);
    const p = new Probe();
    const spy = vi.spyOn(globalThis, 'setTimeout');
    wheel.schedule(p, performance.now() + 10_000);
    const timer = spy.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
    wheel.stop();
  });

  it('a deadline past the Node timer limit is clamped: no TimeoutOverflowWarning', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const wheel = new TimerWheel(100);
      const p = new Probe();
      wheel.schedule(p, performance.now() + 2 ** 33);
      vi.advanceTimersByTime(60_000);
      expect(p.fired).toEqual([]);
      wheel.stop();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
  it('stop() from inside an entry\'s fire ends the tick: no other entry fires, none stays scheduled', () => {
    const wheel = new TimerWheel(10);
    const t0 = performance.now();
    const ps = Array.from({ length: 3 }, () => new Probe());
    for (const p of ps) {
      p.onFire = () => wheel.stop();
      wheel.schedule(p, t0 + 50);
    }
    vi.advanceTimersByTime(100);
    expect(ps.reduce((n, p) => n + p.fired.length, 0)).toBe(1);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
