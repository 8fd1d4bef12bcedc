// The ping rate limit (src/exchange/ping-guard.ts): a token bucket of
// PING_BURST, one token regained per interval / 2. Fake clock, no socket.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PingGuard } from '../../src/exchange/ping-guard.js';
import { PING_BURST } from '../../src/protocol/constants.js';

/** How many of `n` pings in a row the guard allows. */
function allowed(guard: PingGuard, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (guard.allow()) ok++;
  return ok;
}

describe('PingGuard', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows a burst of PING_BURST, then refuses', () => {
    const guard = new PingGuard(1000);
    expect(allowed(guard, PING_BURST)).toBe(PING_BURST);
    expect(guard.allow()).toBe(false);
  });

  it('with a reserve, refuses while no more than `reserve` tokens are left (and takes none then)', () => {
    const guard = new PingGuard(1000);
    let ok = 0;
    for (let i = 0; i < PING_BURST; i++) if (guard.allow(2)) ok++;
    expect(ok).toBe(PING_BURST - 2);
    expect(allowed(guard, 5)).toBe(2); // the reserve is still there for a caller without one
  });

  it('regains one token per interval / 2', () => {
    const guard = new PingGuard(100);
    expect(allowed(guard, PING_BURST + 5)).toBe(PING_BURST);
    vi.advanceTimersByTime(49);
    expect(guard.allow()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(guard.allow()).toBe(true);
    expect(guard.allow()).toBe(false);
    vi.advanceTimersByTime(3 * 50);
    expect(allowed(guard, 10)).toBe(3);
  });

  it('a peer pinging at twice the agreed rate forever is never refused', () => {
    const guard = new PingGuard(100);
    for (let i = 0; i < 10_000; i++) {
      vi.advanceTimersByTime(50);
      expect(guard.allow()).toBe(true);
    }
  });

  it('a full bucket does not accrue: a long quiet spell buys only PING_BURST', () => {
    const guard = new PingGuard(100);
    vi.advanceTimersByTime(3_600_000);
    expect(allowed(guard, 1000)).toBe(PING_BURST);
  });

  it('assumes an interval of 1000 ms when the agreed heartbeat is 0', () => {
    const guard = new PingGuard(0);
    expect(allowed(guard, 100)).toBe(PING_BURST);
    vi.advanceTimersByTime(499);
    expect(guard.allow()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(guard.allow()).toBe(true);
  });

  it('keeps the fraction of a token already earned', () => {
    const guard = new PingGuard(100);
    allowed(guard, PING_BURST);
    vi.advanceTimersByTime(75);
    expect(guard.allow()).toBe(true); // 1 token at 50
    vi.advanceTimersByTime(25);
    expect(guard.allow()).toBe(true); // the second at 100, not at 125
  });
});
