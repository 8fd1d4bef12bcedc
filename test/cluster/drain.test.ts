import { afterAll, describe, expect, it } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { callFrame, RawConnection } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { FAST_RECONNECT, sleep, startWorkProvider, tally, Work, expectNothingOpen } from './cluster-helpers.js';
import { startSignalChild } from './signal-child.js';

const WORK_CALL = (method: string, args: unknown[]): unknown[] => ['cluster.Work', '', '', method, args, null];
const ECHO_NOTIFY = (value: unknown): unknown[] => ['test.Echo', '1.0.0', '', 'notify', [value, 0], null];

describe('drain', () => {
  const defer = useCleanup();

  it('server.close() lets a running call finish, resolves after it, and new calls go to another provider', async () => {
    const a = defer(await startWorkProvider('a', { server: { closeGracePeriod: 5000 } }), (p) => p.close());
    const b = defer(await startWorkProvider('b'), (p) => p.close());
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = client.refer(Work, { providers: [a.address, b.address] });

    const running = track(work.hold()); // roundrobin: the first call goes to a, and runs until the gate opens
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'the call to start on a');
    const closing = track(a.server.close());
    await waitFor(() => client.connections().some((c) => c.address === a.address && c.state === 'draining'), 1000, 'the consumer to read the drain');
    expect(client.connections().find((c) => c.address === a.address)!.providerState).toBe('draining');

    const meanwhile = await Promise.all(Array.from({ length: 20 }, () => work.whoami()));
    expect(tally(meanwhile)).toEqual({ b: 20 });
    await sleep(50);
    expect(running.settled).toBe(false);
    expect(closing.settled).toBe(false); // close() waits for the running call

    a.impl.openGate();
    await waitFor(() => closing.settled, 3000, 'close() to resolve');
    expect(running.settled).toBe(true);
    expect(running.value).toBe('a');
    expect(running.at!).toBeLessThanOrEqual(closing.at!);
    // The consumer closed its connection itself once its call settled: close() did not wait for the grace period.
    expect(closing.at! - running.at!).toBeLessThan(1000);
    expect(a.server.connectionCount).toBe(0);
    await waitFor(() => !client.connections().some((c) => c.address === a.address), 1000, 'the consumer to drop its connection to a');
    expect(await work.whoami()).toBe('b');
  });

  it('calls that race the drain are answered UNAVAILABLE without running, and failover retries them', async () => {
    const a = defer(await startWorkProvider('a', { server: { closeGracePeriod: 5000 } }), (p) => p.close());
    const b = defer(await startWorkProvider('b'), (p) => p.close());
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = client.refer(Work, { providers: [a.address, b.address] });
    const onlyA = client.refer(Work, { providers: [a.address], cluster: 'failfast' });
    expect(await Promise.all([work.whoami(), work.whoami()])).toEqual(['a', 'b']); // both connected
    const ranOnA = a.impl.count('whoami');

    const holding = track(onlyA.hold());
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'a call to hold a');
    const closing = track(a.server.close());
    // Sent before the consumer can have read the drain: they cross it on the wire.
    const raced = track(onlyA.whoami());
    const failover = Array.from({ length: 20 }, () => track(work.whoami()));
    await waitFor(() => raced.settled && failover.every((f) => f.settled), 2000, 'the raced calls');
    const err = await expectCode(Promise.reject(raced.error), 'UNAVAILABLE');
    expect(err.remote).toBe(true);
    expect(err.retrySafe).toBe(true);
    expect(failover.map((f) => f.value)).toEqual(Array(20).fill('b'));
    expect(a.impl.count('whoami')).toBe(ranOnA); // no handler ran on a after the drain

    a.impl.openGate();
    await waitFor(() => closing.settled && holding.settled, 2000, 'close() to resolve');
    expect(holding.value).toBe('a');
  });

  it('a raw consumer that sends a call after receiving the drain frame gets UNAVAILABLE; close() waits for it to hang up', async () => {
    const a = defer(await startWorkProvider('a', { server: { closeGracePeriod: 5000 } }), (p) => p.close());
    const raw = defer(await RawConnection.open(a.port), (r) => r.destroy());
    const before = await raw.call(1, WORK_CALL('whoami', []));
    expect(before.code).toBeUndefined();
    expect(before.body).toBe('a');

    const closing = track(a.server.close());
    const drain = await raw.nextFrame(1000);
    expect(drain).toBeDefined();
    expect(drain!.type).toBe(FrameType.Drain);
    expect(drain!.flags).toBe(0xa0);
    expect(drain!.id).toBe(0);

    const after = await raw.call(2, WORK_CALL('whoami', []));
    expect(after.frame.id).toBe(2);
    expect(after.code).toBe('UNAVAILABLE');
    expect(a.impl.count('whoami')).toBe(1);

    await sleep(100);
    expect(closing.settled).toBe(false); // the provider waits for the consumer to close
    raw.end();
    await waitFor(() => closing.settled, 1000, 'close() after the consumer hung up');
    expect(raw.isClosed || (await raw.closedWithin(500))).toBe(true);
  });

  it('a one-way call that crosses the drain still runs during the grace period (no call is lost)', async () => {
    const srv = defer(await startServer({ closeGracePeriod: 5000 }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    const closing = track(srv.server.close());
    const drain = await raw.nextFrame(1000);
    expect(drain!.type).toBe(FrameType.Drain);

    // Sent after the drain frame was read: a consumer that had already written it could not have known.
    raw.send(callFrame(1, ECHO_NOTIFY('after drain'), false));
    await waitFor(() => srv.echo.notified.includes('after drain'), 1000, 'the one-way handler to run');
    // A two-way call in the same position is still refused, to be retried elsewhere.
    expect((await raw.call(2, ['test.Echo', '1.0.0', '', 'echo', ['x'], null])).code).toBe('UNAVAILABLE');
    expect(srv.echo.received).toEqual([]);

    raw.end();
    await waitFor(() => closing.settled, 1000, 'close() after the consumer hung up');
  });

  it('the provider closes what is left when the grace period ends', async () => {
    const a = defer(await startWorkProvider('a', { server: { closeGracePeriod: 200 } }), (p) => p.close());
    const raw = defer(await RawConnection.open(a.port), (r) => r.destroy());
    raw.send(callFrame(1, WORK_CALL('hold', [])));
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'the held call');
    const started = performance.now();
    await a.server.close();
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(180);
    expect(took).toBeLessThan(1000);
    expect(await raw.closedWithin(500)).toBe(true);
    const frames = [];
    for (let f = await raw.nextFrame(100).catch(() => undefined); f !== undefined; f = await raw.nextFrame(100).catch(() => undefined)) frames.push(f);
    expect(frames.map((f) => f.type)).toEqual([FrameType.Drain]); // no response for the abandoned call
  });

  it('a consumer that connects while the provider drains is refused with CONNECT_FAILED', async () => {
    const a = defer(await startWorkProvider('a', { server: { closeGracePeriod: 5000 } }), (p) => p.close());
    const first = defer(newClient(a.address), (c) => c.close());
    const held = track(first.refer(Work).hold());
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'a call in flight');
    const closing = track(a.server.close());
    const late = defer(newClient(a.address, { cluster: 'failfast' }), (c) => c.close());
    const err = await expectCode(late.refer(Work).whoami(), 'CONNECT_FAILED');
    expect(err.retrySafe).toBe(true);
    a.impl.openGate();
    await waitFor(() => closing.settled && held.settled, 2000, 'close()');
    expect(held.value).toBe('a');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`closeOnSignals: ${signal} drains the provider (the call in flight succeeds) and the process exits 0`, async () => {
      const provider = defer(await startSignalChild(0, 'child'), (c) => c.dispose());
      const client = defer(newClient(provider.address, { reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
      const work = client.refer(Work);
      expect(await work.whoami()).toBe('child');
      const running = track(work.work(300));
      await sleep(50);
      provider.child.kill(signal);
      await waitFor(() => running.settled, 2000, 'the running call');
      expect(running.value).toBe('child');
      expect(await provider.exited).toBe(0);
    });
  }

  it('closeOnSignals installs one handler per signal and returns a function that removes them', async () => {
    const a = defer(await startWorkProvider('a'), (p) => p.close());
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const off = a.server.closeOnSignals();
    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    off();
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});

afterAll(() => expectNothingOpen());
