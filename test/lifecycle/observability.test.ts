// What client.connections(), server.connections() and the events report.
import { describe, expect, it } from 'vitest';
import { StaticDirectory, type BackoffOptions } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, responseFrame, type FakeRequest } from '../helpers/fake-provider.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { recordClientEvents, recordServerEvents, sleep } from './util.js';

const FAST_RECONNECT: BackoffOptions = { initialDelay: 10, factor: 2, maxDelay: 50, jitter: 0 };
const PEER = /^127\.0\.0\.1:\d+$/;

describe('observability', () => {
  const defer = useCleanup();

  it('client.connections() and server.connections() describe a live connection sensibly', async () => {
    const srv = defer(await startServer({ minHeartbeat: 50 }), (s) => s.close());
    const client = defer(newClient(srv.address, { heartbeat: 100, timeout: 5000 }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(client.connections()).toEqual([]); // lazy: nothing before the first call
    expect(await echo.echo('hi')).toBe('hi');

    const [c] = client.connections();
    expect(c).toMatchObject({ address: srv.address, state: 'ready', providerState: 'ready', heartbeat: 100, inFlight: 0, lateResponses: 0, reconnects: 0 });
    expect(Number.isInteger(c!.id)).toBe(true);
    expect(c!.rtt).toBeUndefined(); // no ping yet: calls kept it busy
    for (const ms of [c!.age, c!.lastRead, c!.lastWrite]) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(1000);
    }
    expect(c!.lastRead).toBeLessThanOrEqual(c!.age);

    const [s] = srv.server.connections();
    expect(s).toMatchObject({ state: 'ready', heartbeat: 100, inFlight: 0 });
    expect(s!.peer).toMatch(PEER);
    expect(Number.isInteger(s!.id)).toBe(true);
    for (const ms of [s!.age, s!.lastRead, s!.lastWrite]) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(1000);
    }

    // Idle: the client pings every 100 ms and measures the round trip from the pong.
    await waitFor(() => client.connections()[0]!.rtt !== undefined, 1000, 'an rtt from a pong');
    const rtt = client.connections()[0]!.rtt!;
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(100);
    await sleep(250);
    const idle = client.connections()[0]!;
    expect(idle.lastWrite).toBeLessThan(200); // the pings are writes
    expect(idle.lastRead).toBeLessThan(200); // and the pongs reads
    expect(idle.age).toBeGreaterThan(c!.age + 200);
    expect(srv.server.connections()[0]!.lastRead).toBeLessThan(200);

    // Calls in flight, on both sides.
    const calls = Array.from({ length: 5 }, () => echo.sleep(200));
    await waitFor(() => srv.echo.sleepsStarted === 5, 1000, 'the calls to reach the provider');
    expect(client.connections()[0]!.inFlight).toBe(5);
    expect(srv.server.connections()[0]!.inFlight).toBe(5);
    expect(client.pendingCalls).toBe(5);
    await Promise.all(calls);
    expect(client.connections()[0]!.inFlight).toBe(0);
    expect(srv.server.connections()[0]!.inFlight).toBe(0);

    // A call that times out is cancelled: no late response arrives.
    await expectCode(client.refer(Echo, { timeout: 30 }).sleep(100), 'TIMEOUT');
    await sleep(120);
    expect(client.connections()[0]!.lateResponses).toBe(0);
    expect(client.connections()[0]!.inFlight).toBe(0);
    expect(client.connections().map((x) => x.id)).toEqual([c!.id]);
  });

  it('a response that arrives after its call timed out is dropped and counted in lateResponses', async () => {
    // A scripted provider answers only once the call has timed out and the consumer has sent its Cancel:
    // no race with the machine's load decides whether the response is late.
    let pending: FakeRequest | undefined;
    const fake = defer(await FakeProvider.start((call) => (pending = call)), (f) => f.close());
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo, { timeout: 60 });
    const call = track(echo.echo('late'));
    await waitFor(() => pending !== undefined, 2000, 'the call to reach the provider');
    await waitFor(() => call.settled, 2000, 'the timeout');
    expect((call.error as { code?: string }).code).toBe('TIMEOUT');
    await waitFor(() => fake.cancelled.includes(pending!.frame.id), 2000, 'the cancel');
    pending!.socket.write(responseFrame(pending!.frame.id, 0, encodeBody('too late')));
    await waitFor(() => client.connections()[0]!.lateResponses === 1, 2000, 'the late response to be counted');
    expect(call.value).toBeUndefined();
    expect(client.connections()[0]!.inFlight).toBe(0);
  });

  it('connect events on both sides; reconnects counts reconnections; reconnect(address, attempts) fires', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const proxy = defer(await TcpProxy.start(srv.port), (p) => p.close());
    const client = defer(newClient(proxy.address, { reconnect: FAST_RECONNECT }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    await echo.echo(1);

    expect(events.connects).toHaveLength(1);
    expect(events.connects[0]!.info).toMatchObject({ address: proxy.address, state: 'ready', providerState: 'ready', reconnects: 0 });
    expect(serverEvents.connects).toHaveLength(1);
    expect(serverEvents.connects[0]!.info).toMatchObject({ state: 'ready' });
    expect(serverEvents.connects[0]!.info.peer).toMatch(PEER);
    const firstId = events.connects[0]!.info.id;

    for (let round = 1; round <= 2; round++) {
      proxy.reset();
      await waitFor(() => events.reconnects.length === round, 2000, `reconnect ${round}`);
      expect(events.reconnects[round - 1]).toMatchObject({ address: proxy.address, attempts: 1 });
      expect(events.disconnects[round - 1]!.reason).toMatch(/^(closed-by-peer|socket-error)$/);
      expect(client.connections()[0]!.reconnects).toBe(round);
      expect(await echo.echo(round)).toBe(round);
    }
    expect(events.connects).toHaveLength(3);
    expect(client.connections()[0]!.id).not.toBe(firstId);
    await waitFor(() => serverEvents.disconnects.length === 2, 1000, 'the provider to see both losses');
  });

  it('the connect event of a reconnection reports the reconnect count including it (as connections() does)', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const proxy = defer(await TcpProxy.start(srv.port), (p) => p.close());
    const client = defer(newClient(proxy.address, { reconnect: FAST_RECONNECT }), (c) => c.close());
    const events = recordClientEvents(client);
    const seenAtConnect: number[] = [];
    client.on('connect', () => seenAtConnect.push(client.connections()[0]!.reconnects));
    await client.refer(Echo).echo(1);
    for (let round = 1; round <= 2; round++) {
      proxy.reset();
      await waitFor(() => events.reconnects.length === round, 2000, `reconnect ${round}`);
    }
    // connections() read inside the handler, and the info handed to it, must agree.
    expect(events.connects.map((c) => c.info.reconnects)).toEqual(seenAtConnect);
    expect(events.connects.map((c) => c.info.reconnects)).toEqual([0, 1, 2]);
  });

  it("client.close(): disconnect 'client-closed' at the client, 'closed-by-peer' at the server", async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = newClient(srv.address);
    const events = recordClientEvents(client);
    await client.refer(Echo).echo('x');
    const id = client.connections()[0]!.id;

    await client.close();
    expect(events.disconnects).toHaveLength(1);
    expect(events.disconnects[0]!.reason).toBe('client-closed');
    expect(events.disconnects[0]!.info.id).toBe(id);
    expect(client.connections()).toEqual([]);
    await waitFor(() => serverEvents.disconnects.length === 1, 1000, 'the server disconnect');
    expect(serverEvents.disconnects[0]!.reason).toBe('closed-by-peer');
    expect(srv.server.connections()).toEqual([]);
    await client.close(); // idempotent
    expect(events.disconnects).toHaveLength(1);
  });

  it("graceful server close: the connection drains (calls in flight finish, new ones refused), then 'drain' on both sides", async () => {
    const srv = defer(await startServer({ closeGracePeriod: 5000 }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = defer(newClient(srv.address, { reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    await echo.echo('x');

    const inFlight = track(echo.sleep(300));
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the call to reach the provider');
    const closing = srv.server.close();
    await waitFor(() => client.connections()[0]?.state === 'draining', 1000, 'the drain notice');
    expect(client.connections()[0]!.providerState).toBe('draining');
    expect(srv.server.connections()[0]!.state).toBe('draining');
    await expectCode(echo.echo('refused'), 'UNAVAILABLE');
    expect(events.disconnects).toEqual([]);

    await closing;
    expect(inFlight.value).toBe(300);
    await waitFor(() => events.disconnects.length === 1, 1000, 'the client disconnect');
    expect(events.disconnects[0]!.reason).toBe('drain');
    expect(serverEvents.disconnects.map((d) => d.reason)).toEqual(['drain']);
  });

  it("a provider removed from the list: disconnect 'removed'", async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const directory = new StaticDirectory([srv.address]);
    const client = defer(newClient(undefined), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo, { providers: directory });
    await echo.echo('x');

    directory.update([]);
    await waitFor(() => events.disconnects.length === 1, 1000, 'the disconnect');
    expect(events.disconnects[0]!.reason).toBe('removed');
    expect(events.disconnects[0]!.info.providerState).toBe('removed');
    expect(client.connections()).toEqual([]);
    await expectCode(echo.echo('y'), 'UNAVAILABLE');
  });

  it("client idleTimeout: disconnect 'idle', the provider goes back to idle and the next call reopens", async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address, { idleTimeout: 150 }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    await echo.echo('x');

    await waitFor(() => events.disconnects.length === 1, 1500, 'the idle close');
    expect(events.disconnects[0]!.reason).toBe('idle');
    expect(client.connections()).toEqual([]);
    expect(events.reconnects).toEqual([]);
    expect(await echo.echo('again')).toBe('again');
    expect(client.connections()[0]!.providerState).toBe('ready');
    expect(client.connections()[0]!.reconnects).toBe(0);
  });

  it("a connection over the provider's accepts limit: server disconnect 'refused', the call fails with LIMIT_EXCEEDED", async () => {
    const srv = defer(await startServer({ accepts: 1 }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const first = defer(newClient(srv.address), (c) => c.close());
    await first.refer(Echo).echo('in');
    const second = defer(newClient(srv.address, { reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const secondEvents = recordClientEvents(second);

    await expectCode(second.refer(Echo).echo('over'), 'LIMIT_EXCEEDED');
    await waitFor(() => serverEvents.disconnects.length === 1, 1000, 'the refusal');
    expect(serverEvents.disconnects[0]!.reason).toBe('refused');
    expect(secondEvents.connects).toEqual([]);
    expect(srv.server.connections()).toHaveLength(1);
  });
});
