// Review of #11 (live connection counters): bytesIn / bytesOut against a
// socket-level count through a counting TCP proxy, and callsDone on both sides.
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { withOptions } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();

/** A TCP proxy that counts the bytes it forwards each way. */
async function countingProxy(targetPort: number): Promise<{ server: NetServer; address: string; up: number; down: number }> {
  const state = { up: 0, down: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(targetPort, '127.0.0.1');
    sockets.add(down).add(up);
    down.on('data', (c: Buffer) => {
      state.up += c.length;
      up.write(c);
    });
    up.on('data', (c: Buffer) => {
      state.down += c.length;
      down.write(c);
    });
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as typeof server.close;
  return Object.assign(state, { server, address: `127.0.0.1:${port}` }) as typeof state & { server: NetServer; address: string };
}

describe('live connection counters', () => {
  it('bytesIn / bytesOut are exact on both sides (compared with a socket-level count); callsDone counts each call once on both sides', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const proxy = await countingProxy(srv.port);
    defer(proxy, (p) => new Promise((resolve) => p.server.close(() => resolve(undefined))));
    const client = defer(newClient(proxy.address, { cluster: 'failfast' }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('x'.repeat(5000))).toHaveLength(5000);
    await expectCode(echo.fail('no'), 'HANDLER_ERROR');
    await echo.notify(1, 0); // one-way
    await expectCode(echo.bounded(300), 'TIMEOUT'); // the contract's 80 ms; the provider finishes it later
    const ac = new AbortController();
    const cancelled = expectCode(withOptions(echo, { signal: ac.signal }).sleep(400), 'CANCELLED');
    await waitFor(() => srv.echo.sleepsStarted === 1, 2000, 'the sleep started');
    ac.abort();
    await cancelled;
    // The provider counts the cancelled call when its handler returns (sleep ignores its signal): once, as CANCELLED.
    await waitFor(() => srv.server.connections()[0]?.inFlight === 0, 2000, 'the handlers returned');
    expect({ server: srv.server.connections()[0]?.callsDone, client: client.connections()[0]?.callsDone }).toEqual({ server: 5, client: 5 });
    expect(srv.server.connections()[0]?.lastError?.code).toBe('CANCELLED');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const c = client.connections()[0]!;
    const s = srv.server.connections()[0]!;
    expect({ clientOut: c.bytesOut, clientIn: c.bytesIn, serverIn: s.bytesIn, serverOut: s.bytesOut }).toEqual({
      clientOut: proxy.up,
      clientIn: proxy.down,
      serverIn: proxy.up,
      serverOut: proxy.down,
    });
  });
});
