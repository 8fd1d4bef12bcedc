// C3: the timeout of an idempotent call is split only across attempts that can happen.
import { afterAll, describe, expect, it } from 'vitest';
import { newClient, useCleanup } from '../helpers/server.js';
import { expectNothingOpen, startWorkProvider, Work } from './cluster-helpers.js';

describe('the timeout budget of idempotent calls', () => {
  const defer = useCleanup();

  it('with a single provider, the one attempt gets the whole timeout (1500 ms timeout, 800 ms call)', async () => {
    const a = defer(await startWorkProvider('a'), (p) => p.close());
    const client = defer(newClient(a.address, { retries: 2 }), (c) => c.close());
    const work = client.refer(Work, { timeout: 1500 });
    const started = performance.now();
    // Before the fix: TIMEOUT after 1500 / 3 = 500 ms.
    expect(await work.slowIdem(800)).toBe('a');
    expect(performance.now() - started).toBeGreaterThanOrEqual(750);
    expect(a.impl.count('slowIdem')).toBe(1);
  });

  it('with two providers and three attempts, the timeout is split in two', async () => {
    const a = defer(await startWorkProvider('a'), (p) => p.close());
    const b = defer(await startWorkProvider('b'), (p) => p.close());
    a.impl.stallMs = 5000; // a never answers in time
    const client = defer(newClient(undefined, { retries: 2, loadbalance: 'roundrobin' }), (c) => c.close());
    // roundrobin over equal weights tries the first listed provider first: a, for 750 ms; then b gets the rest.
    const work = client.refer(Work, { providers: [a.address, b.address], timeout: 1500 });
    const started = performance.now();
    // Before the fix: a for 500 ms, then b for 500 ms: TIMEOUT on a 600 ms call.
    expect(await work.slowIdem(600)).toBe('b');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1300); // 750 on a, 600 on b
    expect(elapsed).toBeLessThan(1700); // the call's timeout, plus scheduling slack on a busy machine
    expect([a.impl.count('slowIdem'), b.impl.count('slowIdem')]).toEqual([1, 1]);
  });
});

afterAll(() => expectNothingOpen());
