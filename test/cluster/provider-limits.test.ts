import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError, Provider, Server, silentLogger } from '../../src/index.js';
import { expectCode, newClient, track, useCleanup, waitFor } from '../helpers/server.js';
import { FAST_RECONNECT, startWorkProvider, tally, Work, WorkImpl, expectNothingOpen } from './cluster-helpers.js';

/** The same implementation with its limits on the decorator. */
@Provider(Work, { executes: 3, methods: { hold: { executes: 1 } } })
class LimitedWork extends WorkImpl {}

describe('provider-side limits', () => {
  const defer = useCleanup();

  it('executes (per service, via register options) refuses the excess at once with LIMIT_EXCEEDED before user code runs', async () => {
    const p = defer(await startWorkProvider('a', { provider: { executes: 2 } }), (x) => x.close());
    const client = defer(newClient(p.address, { cluster: 'failfast' }), (c) => c.close());
    const work = client.refer(Work);

    const held = [track(work.hold(1)), track(work.hold(2))];
    await waitFor(() => p.impl.count('hold') === 2, 1000, 'two calls to run');
    const started = performance.now();
    // Over the cap: a different method of the same service is refused too.
    const refused = await Promise.all([expectCode(work.hold(3), 'LIMIT_EXCEEDED'), expectCode(work.whoami(), 'LIMIT_EXCEEDED'), expectCode(work.work(1), 'LIMIT_EXCEEDED')]);
    expect(performance.now() - started).toBeLessThan(500); // refused at once, not queued
    for (const err of refused) {
      expect(err.remote).toBe(true);
      expect(err.retrySafe).toBe(true);
    }
    expect(p.impl.count('hold')).toBe(2);
    expect(p.impl.count('whoami')).toBe(0);
    expect(p.impl.count('work')).toBe(0);

    p.impl.openGate();
    await waitFor(() => held.every((h) => h.settled), 1000, 'the held calls');
    expect(held.map((h) => h.value)).toEqual(['a', 'a']);
    // Slots are released once calls finish, including after failures.
    expect(await Promise.all([work.whoami(), work.whoami()])).toEqual(['a', 'a']);
  });

  it('executes per method (on @Provider) caps that method only; the service cap still bounds the total', async () => {
    const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 500 });
    const impl = new LimitedWork('limited');
    server.register(impl);
    const { port } = await server.listen();
    defer(server, async (s) => {
      impl.openGate();
      await s.close();
    });
    const client = defer(newClient(`127.0.0.1:${port}`, { cluster: 'failfast' }), (c) => c.close());
    const work = client.refer(Work);

    const first = track(work.hold());
    await waitFor(() => impl.count('hold') === 1, 1000, 'the first hold');
    await expectCode(work.hold(), 'LIMIT_EXCEEDED'); // the method cap (1)
    expect(impl.count('hold')).toBe(1);

    // Other methods still run, up to the service cap of 3 in total (1 hold + 2 work).
    const workers = [track(work.work(200)), track(work.work(200))];
    await waitFor(() => impl.running === 2, 1000, 'two work calls to run');
    const err = await expectCode(work.whoami(), 'LIMIT_EXCEEDED');
    expect(err.message).toMatch(/limit of 3/);
    expect(impl.count('whoami')).toBe(0);

    impl.openGate();
    await waitFor(() => first.settled && workers.every((w) => w.settled), 2000, 'everything');
    expect(first.value).toBe('limited');
    expect(await work.hold()).toBe('limited'); // the method slot came back
  });

  it('the slot of a method cap is released when its handler throws synchronously', async () => {
    const p = defer(await startWorkProvider('a', { provider: { methods: { boom: { executes: 1 } } } }), (x) => x.close());
    const client = defer(newClient(p.address, { cluster: 'failfast' }), (c) => c.close());
    const work = client.refer(Work);
    for (let i = 0; i < 5; i++) await expectCode(work.boom(), 'HANDLER_ERROR');
    expect(p.impl.count('boom')).toBe(5);
  });

  it('under failover, an executes refusal is retried on another provider', async () => {
    const a = defer(await startWorkProvider('a', { provider: { executes: 1 } }), (x) => x.close());
    const b = defer(await startWorkProvider('b'), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const onlyA = client.refer(Work, { providers: [a.address] });
    const both = client.refer(Work, { providers: [a.address, b.address], loadbalance: 'roundrobin' });
    const held = onlyA.hold();
    await waitFor(() => a.impl.count('hold') === 1, 1000, 'a to be busy');
    // roundrobin tries a first (refused before its handler runs), then b.
    expect(await both.whoami()).toBe('b');
    expect(a.impl.count('whoami')).toBe(0);
    a.impl.openGate();
    await held;
  });

  it('accepts: 1 refuses a second client in the handshake with LIMIT_EXCEEDED, visible to its caller', async () => {
    const p = defer(await startWorkProvider('a', { server: { accepts: 1 } }), (x) => x.close());
    const first = defer(newClient(p.address), (c) => c.close());
    expect(await first.refer(Work).whoami()).toBe('a');

    for (const cluster of ['failfast', 'failover'] as const) {
      const second = defer(newClient(p.address, { cluster, reconnect: FAST_RECONNECT }), (c) => c.close());
      const work = second.refer(Work);
      // Every call queued on the refused connection fails with the provider's code, not a bare reset.
      const errors = await Promise.all([expectCode(work.whoami(), 'LIMIT_EXCEEDED'), expectCode(work.whoami(), 'LIMIT_EXCEEDED')]);
      expect(errors[0]).toBeInstanceOf(HeartlineError);
      expect(errors[0]!.retrySafe).toBe(true);
      expect(p.impl.count('whoami')).toBe(1);
      expect(second.connections().filter((c) => c.state === 'ready')).toEqual([]);
      await second.close();
    }
    await waitFor(() => p.server.connectionCount === 1, 1000, 'the refused connections to close');
    expect(p.server.connections()[0]!.state).toBe('ready');
  });

  it('a refused client gets in once the provider has room again', async () => {
    const p = defer(await startWorkProvider('a', { server: { accepts: 1 } }), (x) => x.close());
    const first = defer(newClient(p.address), (c) => c.close());
    expect(await first.refer(Work).whoami()).toBe('a');
    const second = defer(newClient(p.address, { reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = second.refer(Work);
    await expectCode(work.whoami(), 'LIMIT_EXCEEDED');

    await first.close();
    // The second client keeps reconnecting with backoff and is admitted now (accepts: 1, so the first has left).
    // Not a wait for connectionCount === 0: a reconnect landing as the first leaves keeps the count at 1 or more.
    await waitFor(() => second.connections().some((c) => c.state === 'ready'), 3000, 'the second client to connect');
    expect(await work.whoami()).toBe('a');
  });

  it('connections: 3 against a provider that accepts 2: calls succeed on the two accepted connections', async () => {
    const p = defer(await startWorkProvider('a', { server: { accepts: 2 } }), (x) => x.close());
    const client = defer(newClient(p.address, { connections: 3, reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = client.refer(Work);
    for (let burst = 0; burst < 2; burst++) {
      const outcomes = await Promise.all(Array.from({ length: 30 }, () => work.whoami().then((v) => v, (e: HeartlineError) => e.code)));
      // Today a third of each burst is queued on a third connection, which the provider refuses,
      // and those calls fail with LIMIT_EXCEEDED although two healthy connections are open.
      expect(tally(outcomes), `burst ${burst}`).toEqual({ a: 30 });
    }
  });
});

afterAll(() => expectNothingOpen());
