// Unit tests of the reconnect delay (src/consumer/backoff.ts).
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../../src/consumer/backoff.js';
import { seededRandom } from './util.js';

const OPTIONS: Required<BackoffOptions> = { initialDelay: 500, factor: 2, maxDelay: 30_000, jitter: 0.2 };

/** The un-jittered delay of attempt n >= 1. */
const base = (n: number, o: Required<BackoffOptions> = OPTIONS): number => Math.min(o.maxDelay, o.initialDelay * o.factor ** n);

describe('backoffDelay', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_BACKOFF).toEqual({ initialDelay: 500, factor: 2, maxDelay: 30_000, jitter: 0.2 });
  });

  it('spreads the first reconnect uniformly over [0, initialDelay]', () => {
    const random = seededRandom(1);
    const samples = Array.from({ length: 2000 }, () => backoffDelay(0, OPTIONS, random));
    for (const d of samples) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(OPTIONS.initialDelay);
    }
    // Spread over the whole range, not bunched: every tenth of it is hit.
    const deciles = new Set(samples.map((d) => Math.min(9, Math.floor((d / OPTIONS.initialDelay) * 10))));
    expect(deciles.size).toBe(10);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(0.4 * OPTIONS.initialDelay);
    expect(mean).toBeLessThan(0.6 * OPTIONS.initialDelay);
    // The extremes of the random source map to the ends of the range.
    expect(backoffDelay(0, OPTIONS, () => 0)).toBe(0);
    expect(backoffDelay(0, OPTIONS, () => 0.999999)).toBeCloseTo(OPTIONS.initialDelay, 2);
  });

  it('grows by the factor per attempt, each delay jittered within ±jitter of its base', () => {
    const random = seededRandom(42);
    for (let run = 0; run < 200; run++) {
      let previous = -1;
      for (let attempt = 1; attempt <= 5; attempt++) {
        const d = backoffDelay(attempt, OPTIONS, random);
        const b = base(attempt);
        expect(d).toBeGreaterThanOrEqual(b * (1 - OPTIONS.jitter));
        expect(d).toBeLessThanOrEqual(b * (1 + OPTIONS.jitter));
        // factor 2 with jitter 0.2: the ranges [0.8 b, 1.2 b] and [1.6 b, 2.4 b] never overlap.
        expect(d).toBeGreaterThan(previous);
        previous = d;
      }
    }
  });

  it('applies jitter (delays of one attempt differ) and it averages out to the base', () => {
    const random = seededRandom(7);
    const samples = Array.from({ length: 2000 }, () => backoffDelay(3, OPTIONS, random));
    expect(new Set(samples.map((d) => Math.round(d))).size).toBeGreaterThan(100);
    expect(Math.min(...samples)).toBeLessThan(base(3) * 0.85);
    expect(Math.max(...samples)).toBeGreaterThan(base(3) * 1.15);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(Math.abs(mean - base(3)) / base(3)).toBeLessThan(0.02);
  });

  it('without jitter the delays are exactly initialDelay x factor^attempt', () => {
    const o = { ...OPTIONS, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, o, Math.random))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000]);
  });

  it('is capped at maxDelay, also for huge attempt numbers, and never NaN', () => {
    const random = seededRandom(3);
    for (const attempt of [6, 7, 10, 50, 1000, 1e6, Number.MAX_SAFE_INTEGER]) {
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, OPTIONS, random);
        expect(Number.isFinite(d)).toBe(true);
        expect(d).toBeLessThanOrEqual(OPTIONS.maxDelay);
        expect(d).toBeGreaterThanOrEqual(OPTIONS.maxDelay * (1 - OPTIONS.jitter));
      }
    }
    // Jitter upward at the cap is clipped.
    expect(backoffDelay(20, OPTIONS, () => 0.999999)).toBe(OPTIONS.maxDelay);
  });

  it('is a pure function of (attempt, options, random): the same seed gives the same delays', () => {
    const schedule = (seed: number): number[] => {
      const random = seededRandom(seed);
      return Array.from({ length: 8 }, (_, attempt) => backoffDelay(attempt, OPTIONS, random));
    };
    expect(schedule(99)).toEqual(schedule(99));
    expect(schedule(99)).not.toEqual(schedule(100));
  });

  it('honours other settings (factor 3, small cap)', () => {
    const o: Required<BackoffOptions> = { initialDelay: 10, factor: 3, maxDelay: 200, jitter: 0.1 };
    const random = seededRandom(5);
    const delays = Array.from({ length: 6 }, (_, attempt) => backoffDelay(attempt, o, random));
    expect(delays[0]).toBeLessThanOrEqual(10);
    expect(delays[1]).toBeGreaterThanOrEqual(27);
    expect(delays[1]).toBeLessThanOrEqual(33);
    expect(delays[2]).toBeGreaterThanOrEqual(81);
    expect(delays[2]).toBeLessThanOrEqual(99);
    for (const d of delays.slice(3)) {
      expect(d).toBeGreaterThanOrEqual(180);
      expect(d).toBeLessThanOrEqual(200);
    }
  });
});
