// User listeners that throw (issue #7 C8): Client and Server call them through
// one guarded path, so a throwing `connect` or `disconnect` listener is logged
// and never stops the cleanup of the connection that emitted the event.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { settle, trackResources } from '../helpers/leaks.js';
import { newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

function capturingLogger(): Logger & { errors: Array<{ message: string; meta: Record<string, unknown> | undefined }> } {
  const errors: Array<{ message: string; meta: Record<string, unknown> | undefined }> = [];
  return { errors, warn() {}, error: (meta, message) => errors.push({ message, meta }) };
}

const boom = (what: string) => () => {
  throw new Error(`${what} listener exploded`);
};

describe('throwing event listeners', () => {
  const defer = useCleanup();

  it('Server: throwing connect and disconnect listeners are logged; calls work, later listeners still run, close() resolves, nothing leaks', async () => {
    const tracker = defer(trackResources(), (t) => t.stop());
    const logger = capturingLogger();
    const srv = defer(await startServer({ logger, closeGracePeriod: 5000 }), (s) => s.close());
    const seen: string[] = [];
    srv.server.on('connect', boom('connect'));
    srv.server.on('connect', () => seen.push('connect'));
    srv.server.on('disconnect', boom('disconnect'));
    srv.server.once('disconnect', (_info, reason) => seen.push(`disconnect ${reason}`));
    const client = defer(newClient(srv.address, { timeout: 2000 }), (c) => c.close());
    const echo = client.refer(Echo);

    expect(await echo.echo('hello')).toBe('hello');
    expect(await echo.echo('again')).toBe('again');
    expect(srv.server.connectionsAccepted).toBe(1); // the connect listener did not break the connection

    const closing = track(srv.server.close());
    await waitFor(() => closing.settled, 3000, 'server.close() to resolve');
    expect(closing.error).toBeUndefined();
    expect(srv.server.connectionCount).toBe(0);
    expect(seen).toEqual(['connect', 'disconnect drain']);
    expect(srv.server.listenerCount('disconnect')).toBe(1); // the once listener removed itself
    expect(logger.errors.map((e) => e.message)).toEqual([
      "a 'connect' listener threw: connect listener exploded",
      "a 'disconnect' listener threw: disconnect listener exploded",
    ]);
    expect((logger.errors[0]!.meta!.err as Error).message).toBe('connect listener exploded');

    await client.close();
    await settle();
    expect(tracker.alive()).toEqual([]);
  });

  it('Client: throwing connect and disconnect listeners are logged; calls settle, close() resolves, nothing leaks', async () => {
    const tracker = defer(trackResources(), (t) => t.stop());
    const srv = defer(await startServer(), (s) => s.close());
    const logger = capturingLogger();
    const client = defer(newClient(srv.address, { logger, timeout: 2000 }), (c) => c.close());
    const seen: string[] = [];
    client.on('connect', boom('connect'));
    client.on('connect', () => seen.push('connect'));
    client.on('disconnect', boom('disconnect'));
    client.on('disconnect', (_info, reason) => seen.push(`disconnect ${reason}`));
    const echo = client.refer(Echo);

    expect(await Promise.all([echo.echo(1), echo.echo(2)])).toEqual([1, 2]);
    expect(srv.server.connectionsAccepted).toBe(1);
    const inFlight = track(echo.sleep(200));
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the call to reach the provider');

    const closing = track(client.close());
    await waitFor(() => closing.settled && inFlight.settled, 1000, 'client.close() and the call in flight');
    expect((inFlight.error as { code?: string }).code).toBe('CLIENT_CLOSED');
    expect(client.connections()).toEqual([]);
    expect(seen).toEqual(['connect', 'disconnect client-closed']);
    expect(logger.errors.map((e) => e.message)).toEqual([
      "a 'connect' listener threw: connect listener exploded",
      "a 'disconnect' listener threw: disconnect listener exploded",
    ]);

    await waitFor(() => srv.echo.sleepsFinished === 1, 2000, 'the provider handler');
    await srv.close();
    await settle();
    expect(tracker.alive()).toEqual([]);
  });

  it('Client: a throwing disconnect listener when the provider goes away does not stop the failure of calls in flight', async () => {
    const srv = await startServer({ closeGracePeriod: 50 });
    const logger = capturingLogger();
    const client = defer(newClient(srv.address, { logger, timeout: 5000, reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
    client.on('disconnect', boom('disconnect'));
    const echo = client.refer(Echo);
    expect(await echo.echo(1)).toBe(1);
    const inFlight = track(echo.sleep(300));
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the call to reach the provider');
    await srv.close(); // grace period ends: the provider closes the connection
    await waitFor(() => inFlight.settled, 1000, 'the call in flight to fail');
    expect((inFlight.error as { code?: string }).code).toBe('CONNECTION_LOST_WRITTEN');
    expect(logger.errors.map((e) => e.message)).toContain("a 'disconnect' listener threw: disconnect listener exploded");
    await waitFor(() => srv.echo.sleepsFinished === 1, 2000, 'the provider handler');
  });
});
