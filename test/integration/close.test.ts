import { describe, expect, it } from 'vitest';
import { Echo } from '../helpers/contract.js';
import { settle, trackResources } from '../helpers/leaks.js';
import { activeResources, expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

/**
 * net.Server emits 'close' (and so resolves `server.close()`) before libuv has
 * finished closing the listening handle; one turn of the event loop later it is gone.
 */
const nextLoopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('closing', () => {
  const defer = useCleanup();

  it('leaves no socket, server or timer behind after client.close() and server.close()', async () => {
    const before = activeResources();
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, { timeout: 5000 }), (c) => c.close());
    const echo = client.refer(Echo);
    await Promise.all([echo.echo(1), echo.delayedEcho(2), echo.sleep(20), echo.notify('n', 0)]);
    await expectCode(echo.fail('x'), 'HANDLER_ERROR');
    expect(activeResources().TCPSocketWrap ?? 0).toBeGreaterThan(before.TCPSocketWrap ?? 0);

    await client.close();
    await server.close();
    await nextLoopTurn();

    const after = activeResources();
    expect(after.TCPSocketWrap ?? 0).toBe(before.TCPSocketWrap ?? 0);
    expect(after.TCPServerWrap ?? 0).toBe(before.TCPServerWrap ?? 0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    expect(client.connections()).toHaveLength(0);
    expect(server.connectionCount).toBe(0);
  });

  it("leaves no unref'd timer or handle behind either", async () => {
    const tracker = defer(trackResources(), (t) => t.stop());
    const { server, address, echo: impl } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, { timeout: 5000 }), (c) => c.close());
    const echo = client.refer(Echo);
    await Promise.all([echo.echo(1), echo.delayedEcho(2), echo.sleep(20), echo.notify('n', 0)]);
    await expectCode(echo.fail('x'), 'HANDLER_ERROR');
    await expectCode(echo.bounded(200), 'TIMEOUT');
    await waitFor(() => impl.sleepsFinished === 2, 1000, "the provider's handlers to finish");

    await client.close();
    await server.close();
    await settle();
    expect(tracker.alive()).toEqual([]);
  });

  it('closing the server first, then the client, also leaves nothing behind', async () => {
    const before = activeResources();
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    expect(await client.refer(Echo).echo('x')).toBe('x');

    await server.close();
    await client.close();
    await nextLoopTurn();

    const after = activeResources();
    expect(after.TCPSocketWrap ?? 0).toBe(before.TCPSocketWrap ?? 0);
    expect(after.TCPServerWrap ?? 0).toBe(before.TCPServerWrap ?? 0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
  });

  it('calls after close fail with CLIENT_CLOSED and open nothing', async () => {
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('x')).toBe('x');
    await client.close();

    await expectCode(echo.echo('y'), 'CLIENT_CLOSED');
    await expectCode(client.refer(Echo).echo('z'), 'CLIENT_CLOSED');
    await expectCode(echo.notify('w', 0), 'CLIENT_CLOSED');
    expect(client.connections()).toHaveLength(0);
    expect(server.connectionsAccepted).toBe(1);
    await client.close(); // idempotent
  });

  it('calls in flight at client.close() fail with CLIENT_CLOSED and leave no timer', async () => {
    const { address, echo: impl } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, { timeout: 30_000 }), (c) => c.close());
    const echo = client.refer(Echo);
    await echo.echo('warm up');
    const timersBefore = activeResources().Timeout ?? 0;
    const calls = Array.from({ length: 5 }, () => track(echo.sleep(50)));
    await waitFor(() => impl.sleepsStarted === 5, 1000, 'the calls to reach the provider');

    await client.close();
    await waitFor(() => calls.every((c) => c.settled), 200, 'the calls to fail');
    for (const call of calls) expect((call.error as { code?: string }).code).toBe('CLIENT_CLOSED');
    // Once the provider's handlers are done, no call timer of the client is left.
    await waitFor(() => impl.sleepsFinished === 5, 1000, 'the handlers to finish');
    expect(activeResources().Timeout ?? 0).toBeLessThanOrEqual(timersBefore);
  });

  it('calls still waiting for the connection to open fail with CLIENT_CLOSED', async () => {
    const { address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, { timeout: 30_000 }), (c) => c.close());
    const echo = client.refer(Echo);
    const twoWay = track(echo.echo('never sent'));
    const oneWay = track(echo.notify('never sent', 0));

    await client.close();
    await waitFor(() => twoWay.settled && oneWay.settled, 200, 'the calls to fail');
    expect((twoWay.error as { code?: string }).code).toBe('CLIENT_CLOSED');
    expect((oneWay.error as { code?: string } | undefined)?.code).toBe('CLIENT_CLOSED');
  });
});
