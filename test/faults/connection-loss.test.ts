import { describe, expect, it } from 'vitest';
import { HeartlineError, type BackoffOptions } from '../../src/index.js';
import { startChildProvider } from '../helpers/child-process.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, expectFailure, freePort, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** Reconnect within tens of ms instead of the default backoff (first retry within 500 ms). */
const FAST_RECONNECT: BackoffOptions = { initialDelay: 20, factor: 2, maxDelay: 100, jitter: 0 };

describe('connection loss', () => {
  const defer = useCleanup();

  it('a killed provider fails every call in flight at once with CONNECTION_LOST_WRITTEN', async () => {
    const provider = defer(await startChildProvider(), (p) => p.dispose());
    const client = defer(newClient(provider.address, { timeout: 30_000 }), (c) => c.close());
    const echo = client.refer(Echo);

    const calls = Array.from({ length: 100 }, () => track(echo.sleep(5000)));
    // A round trip after the 100 calls proves they were all written and read by the provider.
    expect(await echo.echo('sync')).toBe('sync');
    expect(client.connections()[0]!.inFlight).toBe(100);

    const killedAt = performance.now();
    provider.kill('SIGKILL');
    await waitFor(() => calls.every((c) => c.settled), 1000, 'every call to fail');
    const slowest = Math.max(...calls.map((c) => c.at! - killedAt));
    expect(slowest).toBeLessThan(1000);
    for (const call of calls) {
      expect(call.error).toBeInstanceOf(HeartlineError);
      expect((call.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
      expect((call.error as HeartlineError).retrySafe).toBe(false);
    }
    expect(client.connections().filter((c) => c.state === 'ready')).toHaveLength(0);
  });

  it('calls to an address with nothing listening fail fast with CONNECT_FAILED', async () => {
    const port = await freePort();
    const noRetry = { initialDelay: 60_000, maxDelay: 60_000 }; // no reconnect attempt during the test
    const client = defer(newClient(`127.0.0.1:${port}`, { timeout: 30_000, connectTimeout: 30_000, reconnect: noRetry }), (c) => c.close());
    const echo = client.refer(Echo);
    const started = performance.now();
    // The first calls, two-way and one-way, wait for the connection and fail with it.
    const errors = await Promise.all([
      expectCode(echo.echo(1), 'CONNECT_FAILED'),
      expectCode(echo.echo(2), 'CONNECT_FAILED'),
      expectCode(echo.notify('x', 0), 'CONNECT_FAILED'),
    ]);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(errors.every((e) => e.retrySafe)).toBe(true);
    expect(client.connections()).toHaveLength(0);

    // While the client backs off before reconnecting, calls fail at once, and safe to retry.
    const again = performance.now();
    const later = await expectFailure(echo.echo(3));
    expect(['CONNECT_FAILED', 'UNAVAILABLE']).toContain(later.code);
    expect(later.retrySafe).toBe(true);
    expect(performance.now() - again).toBeLessThan(1000);
  });

  it('after the provider restarts on the same port, a new call succeeds on a fresh connection', async () => {
    const first = defer(await startChildProvider(), (p) => p.dispose());
    const client = defer(newClient(first.address, { timeout: 30_000, reconnect: FAST_RECONNECT }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('first')).toBe('first');
    const firstConnection = client.connections()[0]!.id;

    await first.dispose();
    await waitFor(() => client.connections().every((c) => c.id !== firstConnection), 1000, 'the connection to be dropped');
    const down = await expectFailure(echo.echo('down'));
    expect(['CONNECT_FAILED', 'UNAVAILABLE']).toContain(down.code);
    expect(down.retrySafe).toBe(true);

    const second = defer(await startChildProvider(first.port), (p) => p.dispose());
    expect(second.port).toBe(first.port);
    await waitFor(() => client.connections().some((c) => c.state === 'ready'), 2000, 'the client to reconnect');
    expect(await echo.echo('second')).toBe('second');
    const [conn] = client.connections();
    expect(client.connections()).toHaveLength(1);
    expect(conn!.id).not.toBe(firstConnection);
  });

  it('a frozen provider (SIGSTOP): calls time out on their own timeout and the connection recovers on SIGCONT', async () => {
    const provider = defer(await startChildProvider(), (p) => p.dispose());
    const client = defer(newClient(provider.address, { timeout: 150 }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('before')).toBe('before');

    provider.pause();
    const started = performance.now();
    await expectCode(echo.echo('frozen'), 'TIMEOUT');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(client.connections()[0]!.inFlight).toBe(0);

    provider.resume();
    expect(await echo.echo('after')).toBe('after');
    expect(client.connections()).toHaveLength(1);
  });

  it('a reset connection fails the calls in flight with CONNECTION_LOST_WRITTEN; the client reconnects', async () => {
    const { address, port, echo: impl } = defer(await startServer(), (s) => s.close());
    const proxy = defer(await TcpProxy.start(port), (p) => p.close());
    const client = defer(newClient(proxy.address, { timeout: 30_000, reconnect: FAST_RECONNECT }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(address).not.toBe(proxy.address);

    const calls = Array.from({ length: 10 }, () => track(echo.sleep(150)));
    await waitFor(() => impl.sleepsStarted === 10, 1000, 'the calls to reach the provider');
    proxy.reset();
    await waitFor(() => calls.every((c) => c.settled), 500, 'every call to fail');
    for (const call of calls) expect((call.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');

    await waitFor(() => client.connections().some((c) => c.state === 'ready'), 2000, 'the client to reconnect');
    expect(await echo.echo('reconnected')).toBe('reconnected');
    expect(proxy.accepted).toBe(2);
  });

  it('a blackholed connection: calls time out, the connection stays open', async () => {
    const { port } = defer(await startServer(), (s) => s.close());
    const proxy = defer(await TcpProxy.start(port), (p) => p.close());
    const client = defer(newClient(proxy.address, { timeout: 100 }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('before')).toBe('before');

    proxy.blackhole();
    await expectCode(echo.echo('lost'), 'TIMEOUT');
    expect(client.connections()).toHaveLength(1);
    expect(client.connections()[0]!.inFlight).toBe(0);
    expect(proxy.connections).toBe(1);
  });
});
