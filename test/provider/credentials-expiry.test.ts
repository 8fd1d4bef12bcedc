// The expiry clocks of one connection (credentials-expiry.ts), with fake timers:
// a far expiry is waited for in steps of at most 2^31-1 ms, each clock is one
// timer, and cancel() leaves none.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CredentialsExpiry } from '../../src/provider/credentials-expiry.js';

const DAY = 24 * 3600 * 1000;

function link() {
  const events: string[] = [];
  return { events, credentialsExpired: () => void events.push('expired'), expiryGraceOver: () => void events.push('grace over') };
}

describe('CredentialsExpiry', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('fires at expiresAt, even 40 days away (past one Node timer), and not a moment before', () => {
    const l = link();
    const expiry = new CredentialsExpiry(l, Date.now() + 40 * DAY);
    expiry.start();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(40 * DAY - 1);
    expect(l.events).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(l.events).toEqual(['expired']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the grace clock follows the drain; cancel() clears both clocks and is idempotent', () => {
    const l = link();
    const expiry = new CredentialsExpiry(l, Date.now() + 1000);
    expiry.start();
    vi.advanceTimersByTime(1000);
    expiry.startGrace(500);
    vi.advanceTimersByTime(499);
    expect(l.events).toEqual(['expired']);
    vi.advanceTimersByTime(1);
    expect(l.events).toEqual(['expired', 'grace over']);
    const other = new CredentialsExpiry(l, Date.now() + 1000);
    other.start();
    other.startGrace(10);
    other.cancel();
    other.cancel();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an infinite expiresAt arms nothing; start() twice keeps one timer', () => {
    const l = link();
    new CredentialsExpiry(l, Infinity).start();
    expect(vi.getTimerCount()).toBe(0);
    const e = new CredentialsExpiry(l, Date.now() + 10);
    e.start();
    e.start();
    expect(vi.getTimerCount()).toBe(1);
    e.cancel();
  });
});
