// The live counters of client.connections() and server.connections(): bytesIn, bytesOut, callsDone, lastError.
import { describe, expect, it } from 'vitest';
import { sharedSecret } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, recordServerEvents } from './util.js';

describe('connection counters', () => {
  const defer = useCleanup();

  it('bytes agree across the two ends; callsDone counts every settled call; lastError is the last failure', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address, { heartbeat: 0 }), (c) => c.close());
    const echo = client.refer(Echo, { attachments: { token: 's3cret-token' } });
    for (let i = 0; i < 3; i++) await echo.echo('x'.repeat(100));

    let [c] = client.connections();
    let [s] = srv.server.connections();
    expect(c!.callsDone).toBe(3);
    expect(s!.callsDone).toBe(3);
    expect(c!.lastError).toBeUndefined();
    expect(s!.lastError).toBeUndefined();
    expect('lastError' in c!).toBe(false); // absent, not undefined: what Reflection's ConnectionReport says
    // Each side's bytes out are the other's bytes in (the handshake included), once nothing is in transit.
    await waitFor(() => srv.server.connections()[0]!.bytesIn === client.connections()[0]!.bytesOut, 1000, 'the requests to arrive');
    [c] = client.connections();
    [s] = srv.server.connections();
    expect(c!.bytesIn).toBe(s!.bytesOut);
    // Three requests of 100+ bytes and their three answers, each with its 16-byte header, and the handshake.
    expect(c!.bytesOut).toBeGreaterThan(3 * (100 + 16));
    expect(c!.bytesIn).toBeGreaterThan(3 * (100 + 16));
    const before = c!.bytesOut;
    await echo.echo('y');
    expect(client.connections()[0]!.bytesOut).toBeGreaterThan(before);

    await expectCode(echo.fail('the handler says no'), 'HANDLER_ERROR');
    c = client.connections()[0];
    s = srv.server.connections()[0];
    expect(c!.callsDone).toBe(5);
    expect(s!.callsDone).toBe(5);
    expect(c!.lastError).toEqual({ code: 'HANDLER_ERROR', message: expect.stringContaining('the handler says no') });
    expect(s!.lastError).toEqual({ code: 'HANDLER_ERROR', message: 'the handler says no' });
    expect(JSON.stringify([c, s])).not.toContain('s3cret'); // attachments never show

    // A success does not clear it; a later failure replaces it.
    await echo.echo(1);
    expect(client.connections()[0]!.lastError!.code).toBe('HANDLER_ERROR');
    await expectCode(client.refer(Echo, { timeout: 20 }).sleep(200), 'TIMEOUT');
    expect(client.connections()[0]!.lastError).toEqual({ code: 'TIMEOUT', message: expect.stringContaining('no response') });
    expect(client.connections()[0]!.callsDone).toBe(7);
  });

  it('lastError keeps at most 512 characters of a long message, on both sides', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    await expectCode(client.refer(Echo).fail('x'.repeat(100_000)), 'HANDLER_ERROR');
    const c = client.connections()[0]!.lastError!;
    const s = srv.server.connections()[0]!.lastError!;
    expect(s.message).toBe(`${'x'.repeat(512)}…`);
    expect(c.message.length).toBe(513);
    expect(c.message.endsWith('x…')).toBe(true);
  });

  it('the provider counts the calls it refuses before they run: LIMIT_EXCEEDED from maxConcurrentCalls', async () => {
    const srv = defer(await startServer({ maxConcurrentCalls: 1 }), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    const echo = client.refer(Echo);
    await echo.echo(1);

    const slow = echo.sleep(200);
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the first call to run');
    await expectCode(client.refer(Echo, { cluster: 'failfast' }).echo(2), 'LIMIT_EXCEEDED');
    expect(srv.server.connections()[0]!.lastError).toEqual({ code: 'LIMIT_EXCEEDED', message: 'this connection is executing its limit of 1 calls' });
    await slow;
    expect(srv.server.connections()[0]!.callsDone).toBe(3);
    expect(client.connections()[0]!.callsDone).toBe(3);
  });

  it("a refused connection reports why, in the disconnect events of both sides", async () => {
    const srv = defer(await startServer({ accepts: 1 }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const first = defer(newClient(srv.address), (c) => c.close());
    await first.refer(Echo).echo('in');
    const second = defer(newClient(srv.address, { reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(second);
    await expectCode(second.refer(Echo).echo('over'), 'LIMIT_EXCEEDED');
    await waitFor(() => serverEvents.disconnects.length === 1 && events.disconnects.length === 1, 1000, 'the refusal');
    expect(events.disconnects[0]!.reason).toBe('refused');
    expect(events.disconnects[0]!.info.lastError).toEqual({ code: 'LIMIT_EXCEEDED', message: 'provider accepts at most 1 connections' });
    expect(serverEvents.disconnects[0]!.info.lastError).toEqual({ code: 'LIMIT_EXCEEDED', message: 'provider accepts at most 1 connections' });
    // Its bytes are final: the handshake each way.
    expect(events.disconnects[0]!.info.bytesOut).toBe(serverEvents.disconnects[0]!.info.bytesIn);
    expect(events.disconnects[0]!.info.bytesIn).toBe(serverEvents.disconnects[0]!.info.bytesOut);
  });

  it('a closed client connection keeps no failure: client-closed is not an error', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = newClient(srv.address);
    const events = recordClientEvents(client);
    await client.refer(Echo).echo(1);
    await client.close();
    expect(events.disconnects[0]!.info.lastError).toBeUndefined();
    expect(events.disconnects[0]!.info.callsDone).toBe(1);
  });

  it('a connection refused for its credentials says UNAUTHENTICATED on both sides, and never shows the credentials', async () => {
    const srv = defer(await startServer({ authenticate: sharedSecret('the-right-token-123') }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = defer(newClient(srv.address, { credentials: 'a-wrong-token-456', reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(client);
    await expectCode(client.refer(Echo).echo(1), 'UNAUTHENTICATED');
    await waitFor(() => serverEvents.disconnects.length === 1 && events.disconnects.length === 1, 1000, 'the refusal');
    expect(events.disconnects[0]!.info.lastError?.code).toBe('UNAUTHENTICATED');
    expect(serverEvents.disconnects[0]!.info.lastError?.code).toBe('UNAUTHENTICATED');
    const all = JSON.stringify([events.disconnects, serverEvents.disconnects]);
    expect(all).not.toContain('wrong-token');
    expect(all).not.toContain('right-token');
  });
});
