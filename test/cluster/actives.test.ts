import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError, Service } from '../../src/index.js';
import { expectCode, newClient, track, useCleanup, waitFor } from '../helpers/server.js';
import { sleep, startWorkProvider, Work, expectNothingOpen } from './cluster-helpers.js';

/** The consumer's view of `cluster.Work` with limits on the contract itself. */
@Service('cluster.Work', { methods: { work: { actives: 1 }, whoami: {} } })
abstract class CappedWork {
  abstract work(ms: number): Promise<string>;
  abstract whoami(): Promise<string>;
}

describe('consumer-side active limits', () => {
  const defer = useCleanup();

  it('actives: 2 keeps at most two calls executing on the provider, and all 20 complete', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work, { actives: 2 });

    let peakInFlight = 0;
    const sampler = setInterval(() => {
      for (const c of client.connections()) peakInFlight = Math.max(peakInFlight, c.inFlight);
    }, 2);
    const results = await Promise.all(Array.from({ length: 20 }, () => work.work(30)));
    clearInterval(sampler);

    expect(results).toEqual(Array(20).fill('a'));
    expect(p.impl.count('work')).toBe(20);
    expect(p.impl.maxRunning).toBe(2);
    expect(peakInFlight).toBeLessThanOrEqual(2);
    expect(client.pendingCalls).toBe(0);
  });

  it('client.waitingCalls counts the calls waiting for a slot (method and service caps), 0 once they ran', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work, { actives: 2 });
    const all = Promise.all(Array.from({ length: 5 }, () => work.work(50)));
    expect(client.waitingCalls).toBe(3);
    expect(client.pendingCalls).toBe(5);
    const service = client.refer(Work, { serviceActives: 1 });
    const both = Promise.all([service.whoami(), service.whoami()]);
    expect(client.waitingCalls).toBe(4);
    await Promise.all([all, both]);
    expect(client.waitingCalls).toBe(0);
  });

  it('a per-method actives cap (methods: { work: { actives: 3 } }) applies to that method only', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work, { methods: { work: { actives: 3 } } });
    const held = Array.from({ length: 5 }, () => work.hold()); // hold is not capped
    await waitFor(() => p.impl.count('hold') === 5, 1000, 'the uncapped calls to run');
    await Promise.all(Array.from({ length: 12 }, () => work.work(20)));
    expect(p.impl.maxRunning).toBe(3);
    p.impl.openGate();
    await Promise.all(held);
  });

  it('actives set on the contract (@Service methods) apply, and a reference option overrides them', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    await Promise.all(Array.from({ length: 6 }, () => client.refer(CappedWork).work(20)));
    expect(p.impl.maxRunning).toBe(1);
    p.impl.maxRunning = 0;
    await Promise.all(Array.from({ length: 9 }, () => client.refer(CappedWork, { methods: { work: { actives: 3 } } }).work(20)));
    expect(p.impl.maxRunning).toBe(3);
  });

  it('serviceActives caps the calls of all methods of the service together', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work, { serviceActives: 2 });
    const held = [track(work.hold(1)), track(work.hold(2))];
    await waitFor(() => p.impl.count('hold') === 2, 1000, 'two calls to run');
    const queued = track(work.whoami());
    await sleep(60);
    expect(queued.settled).toBe(false);
    expect(p.impl.count('whoami')).toBe(0); // a different method waits for the service's slots too
    p.impl.openGate();
    await waitFor(() => queued.settled && held.every((h) => h.settled), 1000, 'everything to finish');
    expect(queued.value).toBe('a');
  });

  it('calls over the cap wait in FIFO order', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work, { actives: 1 });
    await Promise.all(Array.from({ length: 15 }, (_, i) => work.record(i)));
    expect(p.impl.recorded).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it('a call that waits for a slot longer than its timeout fails with LIMIT_EXCEEDED (retrySafe) and never reaches the provider', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    // Two references share the client's active counts for (provider, method);
    // the first holds the only slot with a long timeout, the second's calls wait.
    const holder = client.refer(Work, { actives: 1, timeout: 5000 });
    const impatient = client.refer(Work, { actives: 1, timeout: 100, cluster: 'failfast' });
    const first = holder.hold('first');
    await waitFor(() => p.impl.count('hold') === 1, 1000, 'the first call to run');

    const started = performance.now();
    const errors = await Promise.all(Array.from({ length: 5 }, (_, i) => expectCode(impatient.hold(i), 'LIMIT_EXCEEDED')));
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(90); // they waited for their timeout, not refused at once
    expect(waited).toBeLessThan(1000);
    for (const err of errors) {
      expect(err).toBeInstanceOf(HeartlineError);
      expect(err.retrySafe).toBe(true);
    }
    expect(p.impl.count('hold')).toBe(1);

    p.impl.openGate();
    expect(await first).toBe('a');
    // The slot is free again.
    expect(await impatient.whoami()).toBe('a');
    expect(await impatient.hold('later')).toBe('a');
    expect(p.impl.count('hold')).toBe(2);
  });

  it('actives: 2, 20 calls of 30 ms, timeout 100: the excess that waited past its timeout fails with LIMIT_EXCEEDED without running', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { cluster: 'failfast' }), (c) => c.close());
    const work = client.refer(Work, { actives: 2, timeout: 100 });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => work.work(30).then((v) => v, (e: HeartlineError) => e.code)));
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
    // The first ones run; the last ones never get a slot in time. A call that gets its slot
    // just before its deadline is sent with what is left and may time out (TIMEOUT: it ran).
    expect(Object.keys(counts).every((k) => ['a', 'LIMIT_EXCEEDED', 'TIMEOUT'].includes(k)), JSON.stringify(counts)).toBe(true);
    expect(counts.a ?? 0).toBeGreaterThanOrEqual(4);
    expect(counts.LIMIT_EXCEEDED ?? 0, JSON.stringify(counts)).toBeGreaterThanOrEqual(8);
    await waitFor(() => p.impl.running === 0, 1000, 'the handlers to finish');
    expect(p.impl.count('work')).toBe((counts.a ?? 0) + (counts.TIMEOUT ?? 0)); // LIMIT_EXCEEDED calls never reached the provider
    expect(client.pendingCalls).toBe(0);
  });

  it('under failover, a call whose slot wait used up its timeout is not retried on another provider', async () => {
    const a = defer(await startWorkProvider('a'), (x) => x.close());
    const b = defer(await startWorkProvider('b'), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const holder = client.refer(Work, { providers: [a.address], actives: 1, timeout: 5000 });
    // roundrobin over equal weights picks the first listed provider first: a.
    const impatient = client.refer(Work, { providers: [a.address, b.address], loadbalance: 'roundrobin', actives: 1, timeout: 100 });
    const first = holder.hold();
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'the first call to run');
    const started = performance.now();
    await expectCode(impatient.hold(), 'LIMIT_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(1500);
    expect(b.impl.count('hold')).toBe(0); // the timeout covers all attempts
    a.impl.openGate();
    await first;
  });

  it("each reference has its own cap and queue: an uncapped reference and one with a larger cap never wait behind another's waiters (C4)", async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address), (c) => c.close());
    const capped = client.refer(Work, { actives: 1, timeout: 5000 });
    const running = track(capped.hold('running'));
    await waitFor(() => p.impl.count('hold') === 1, 1000, 'the capped call to run');
    const queued = track(capped.hold('queued')); // waits for the capped reference's only slot
    await sleep(20);
    expect(p.impl.count('hold')).toBe(1);

    // Same provider and method, so the count is shared (2 active or waiting), but these references have their own caps.
    const uncapped = client.refer(Work, { timeout: 500, cluster: 'failfast' });
    const wider = client.refer(Work, { actives: 3, timeout: 500, cluster: 'failfast' });
    const free = track(uncapped.hold('uncapped'));
    const second = track(wider.hold('wider'));
    await waitFor(() => p.impl.count('hold') === 3, 1000, 'the uncapped and the wider calls to run at once');
    const third = wider.hold('over'); // 3 active: over the wider cap, it waits in its own queue
    await sleep(20);
    expect(p.impl.count('hold')).toBe(3);
    expect(queued.settled).toBe(false);

    p.impl.openGate();
    expect(await third).toBe('a');
    await waitFor(() => [running, queued, free, second].every((t) => t.settled), 2000, 'every call to finish');
    expect([running, queued, free, second].map((t) => t.value)).toEqual(['a', 'a', 'a', 'a']);
    expect(p.impl.count('hold')).toBe(5);
    expect(client.pendingCalls).toBe(0);
  });

  it('maxPendingCalls: past the bound calls fail at once with LIMIT_EXCEEDED, and work again below it', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { maxPendingCalls: 5, timeout: 5000 }), (c) => c.close());
    const work = client.refer(Work);
    const held = Array.from({ length: 5 }, (_, i) => work.hold(i));
    await waitFor(() => p.impl.count('hold') === 5, 1000, 'five calls to run');
    expect(client.pendingCalls).toBe(5);

    const started = performance.now();
    const err = await expectCode(work.whoami(), 'LIMIT_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(250); // at once: no wait for a slot or a timeout
    expect(err.retrySafe).toBe(true);
    expect(p.impl.count('whoami')).toBe(0);

    p.impl.openGate();
    await Promise.all(held);
    expect(client.pendingCalls).toBe(0);
    expect(await work.whoami()).toBe('a');
  });

  it('maxPendingCalls also counts calls waiting for an actives slot, so that queue is bounded too', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { maxPendingCalls: 3, timeout: 5000 }), (c) => c.close());
    const work = client.refer(Work, { actives: 1 });
    const running = work.hold();
    await waitFor(() => p.impl.count('hold') === 1, 1000, 'the first call to run');
    const waiting = [work.hold(), work.hold()]; // both wait for the single slot
    expect(client.pendingCalls).toBe(3);
    const err = await expectCode(work.hold(), 'LIMIT_EXCEEDED');
    expect(err.message).toContain('maxPendingCalls');
    expect(p.impl.count('hold')).toBe(1);
    p.impl.openGate();
    await Promise.all([running, ...waiting]);
    expect(client.pendingCalls).toBe(0);
  });
});

afterAll(() => expectNothingOpen());
