// Reconnect with backoff while a provider is down, and no more attempts once it
// leaves the provider list.
import { createServer, type Server as NetServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/consumer/backoff.js';
import { HeartlineError, Server, StaticDirectory, silentLogger, type BackoffOptions } from '../../src/index.js';
import { CalcImpl, Echo, EchoImpl, GreeterImpl } from '../helpers/contract.js';
import { expectCode, freePort, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { Gate } from './gate.js';
import { recordClientEvents, recordServerEvents, seededRandom, sleep } from './util.js';

const SEED = 0x5eed;
const BACKOFF: BackoffOptions = { initialDelay: 40, factor: 2, maxDelay: 320, jitter: 0.2 };
const RESOLVED = { ...DEFAULT_BACKOFF, ...BACKOFF };

/** A raw listener on a fixed port that counts connection attempts and drops each at once. */
async function listenRaw(port: number): Promise<{ server: NetServer; attempts: number[]; close(): Promise<void> }> {
  const attempts: number[] = [];
  const server = createServer((socket) => {
    attempts.push(performance.now());
    socket.on('error', () => undefined);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    server,
    attempts,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('reconnect', () => {
  const defer = useCleanup();

  it('retries a lost provider with growing, seeded delays, and stops once it is removed from the list', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const gate = defer(await Gate.start(srv.port), (g) => g.close());
    const seeded = seededRandom(SEED);
    let randomCalls = 0;
    const random = (): number => {
      randomCalls++;
      return seeded();
    };
    const directory = new StaticDirectory([gate.address]);
    const client = defer(newClient(undefined, { random, reconnect: BACKOFF, connectTimeout: 1000 }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo, { providers: directory });
    expect(await echo.echo('up')).toBe('up');
    expect(gate.attempts).toHaveLength(1);

    // The provider goes away: its connection is dropped and every new one refused.
    gate.refuse();
    gate.dropAll();
    await waitFor(() => events.disconnects.length === 1, 1000, 'the disconnect');
    const lostAt = events.disconnects[0]!.at;
    expect(['closed-by-peer', 'socket-error']).toContain(events.disconnects[0]!.reason);

    const RETRIES = 6;
    await waitFor(() => gate.attempts.length >= 1 + RETRIES, 5000, `${RETRIES} reconnect attempts`);
    const times = [lostAt, ...gate.attempts.slice(1, 1 + RETRIES).map((a) => a.at)];
    const observed = times.slice(1).map((t, i) => t - times[i]!);

    // The same seed replayed through backoffDelay gives the schedule the client followed.
    const replay = seededRandom(SEED);
    const expected = Array.from({ length: RETRIES }, (_, attempt) => backoffDelay(attempt, RESOLVED, replay));
    expect(randomCalls).toBeGreaterThanOrEqual(RETRIES);
    for (let i = 0; i < RETRIES; i++) {
      expect(observed[i], `delay before attempt ${i + 1} (expected ${expected[i]!.toFixed(1)} ms)`).toBeGreaterThanOrEqual(expected[i]! - 3);
      expect(observed[i], `delay before attempt ${i + 1} (expected ${expected[i]!.toFixed(1)} ms)`).toBeLessThanOrEqual(expected[i]! + 80);
    }
    // And that schedule grows: first within [0, initialDelay], then by the factor, up to the cap.
    expect(expected[0]).toBeLessThanOrEqual(RESOLVED.initialDelay);
    for (let i = 1; i < RETRIES; i++) {
      const base = Math.min(RESOLVED.maxDelay, RESOLVED.initialDelay * RESOLVED.factor ** i);
      expect(expected[i]).toBeGreaterThanOrEqual(base * (1 - RESOLVED.jitter));
      expect(expected[i]).toBeLessThanOrEqual(Math.min(RESOLVED.maxDelay, base * (1 + RESOLVED.jitter)));
    }
    expect(observed[3]!).toBeGreaterThan(observed[1]!);
    expect(Math.max(...observed)).toBeLessThanOrEqual(RESOLVED.maxDelay + 80);

    // While it is down, calls fail fast and safe to retry.
    const down = await expectCode(echo.echo('down'), 'UNAVAILABLE');
    expect(down.retrySafe).toBe(true);

    // Removed from the provider list: no attempt ever again, even once it could connect.
    directory.update([]);
    const count = gate.attempts.length;
    gate.forward();
    await sleep(3 * RESOLVED.maxDelay);
    expect(gate.attempts).toHaveLength(count);
    expect(client.connections()).toEqual([]);
    expect(events.reconnects).toEqual([]);
    await expectCode(echo.echo('removed'), 'UNAVAILABLE');
  });

  it('reports reconnect(address, attempts) once the provider is back, counting the failed tries', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const gate = defer(await Gate.start(srv.port), (g) => g.close());
    const client = defer(newClient(gate.address, { random: seededRandom(SEED), reconnect: BACKOFF }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('up')).toBe('up');
    const firstId = client.connections()[0]!.id;

    gate.refuseNext(3);
    gate.dropAll();
    await waitFor(() => events.reconnects.length === 1, 3000, 'the reconnect');
    expect(gate.refused).toBe(3);
    expect(events.reconnects[0]!.address).toBe(gate.address);
    expect(events.reconnects[0]!.attempts).toBe(4); // 3 refused + the one that worked
    expect(events.connects).toHaveLength(2);
    const [conn] = client.connections();
    expect(conn!.id).not.toBe(firstId);
    expect(conn!.reconnects).toBe(1);
    expect(conn!.providerState).toBe('ready');
    expect(await echo.echo('back')).toBe('back');

    // A second loss starts the backoff over (attempts counted from 1 again).
    gate.dropAll();
    await waitFor(() => events.reconnects.length === 2, 3000, 'the second reconnect');
    expect(events.reconnects[1]!.attempts).toBe(1);
    expect(client.connections()[0]!.reconnects).toBe(2);
  });

  it('a provider on a fixed port that shut down: attempts arrive when something listens there again, none after removal', async () => {
    const port = await freePort();
    const server = new Server({ host: '127.0.0.1', port, logger: silentLogger, closeGracePeriod: 200 });
    server.register(new EchoImpl()).register(new CalcImpl()).register(new GreeterImpl());
    await server.listen();
    const serverEvents = recordServerEvents(server);
    let serverClosed = false;
    defer(server, (s) => (serverClosed ? undefined : s.close()));

    const directory = new StaticDirectory([`127.0.0.1:${port}`]);
    const client = defer(newClient(undefined, { reconnect: { initialDelay: 20, factor: 2, maxDelay: 100, jitter: 0.2 } }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo, { providers: directory });
    expect(await echo.echo('up')).toBe('up');

    // Graceful shutdown: drain, the consumer closes, then nothing listens on the port.
    await server.close();
    serverClosed = true;
    await waitFor(() => events.disconnects.length > 0, 500, 'the consumer side to close');
    // The drain first; the refused reconnect attempts that may follow are reported as connect-failed.
    const [first, ...rest] = events.disconnects.map((d) => d.reason);
    expect(first).toBe('drain');
    expect(rest.every((r) => r === 'connect-failed')).toBe(true);
    expect(serverEvents.disconnects.map((d) => d.reason)).toEqual(['drain']);
    await sleep(250); // a few attempts are refused by the kernel (ECONNREFUSED)
    expect(events.disconnects.slice(1).every((d) => d.reason === 'connect-failed')).toBe(true);
    expect(events.disconnects.length).toBeGreaterThan(1);

    // Something listens on the port again: the background attempts show up.
    const raw = defer(await listenRaw(port), (r) => r.close());
    await waitFor(() => raw.attempts.length >= 2, 2000, 'reconnect attempts on the fixed port');

    directory.update([]);
    const count = raw.attempts.length;
    await sleep(500); // 5 x maxDelay
    expect(raw.attempts).toHaveLength(count);
    expect(client.connections()).toEqual([]);
  });

  it('client.close() also closes the connection of a provider just removed from the list, failing its calls with CLIENT_CLOSED', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const directory = new StaticDirectory([srv.address]);
    const client = defer(newClient(undefined, { timeout: 10_000 }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo, { providers: directory });
    expect(await echo.echo('up')).toBe('up');

    const slow = track(echo.sleep(800));
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the call to reach the provider');
    // Whatever happens, let the provider's handler finish before the server closes (no timer left behind).
    defer(srv, (s) => waitFor(() => s.echo.sleepsFinished === 1, 2000, 'the handler to finish'));
    // Removed while a call is in flight: the connection drains (the call may finish) ...
    directory.update([]);
    await sleep(20);
    expect(slow.settled).toBe(false);

    // ... but closing the client ends it now, like every other connection.
    const closing = performance.now();
    await client.close();
    await waitFor(() => slow.settled, 300, 'the call in flight to fail with the client close');
    expect(slow.error).toBeInstanceOf(HeartlineError);
    expect((slow.error as HeartlineError).code).toBe('CLIENT_CLOSED');
    expect(slow.at! - closing).toBeLessThan(300);
    await waitFor(() => srv.server.connectionCount === 0, 500, 'the provider to see the connection closed');
    expect(serverEvents.disconnects).toHaveLength(1);
    expect(events.disconnects.map((d) => d.reason)).toEqual(['client-closed']);
  });
});
