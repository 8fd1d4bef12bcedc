// A half-open connection: consumer -> TCP proxy -> provider, and the proxy
// silently stops forwarding (no FIN, no RST). Only the heartbeat can notice.
import { describe, expect, it } from 'vitest';
import { HeartlineError, type BackoffOptions } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { recordClientEvents, sleep } from './util.js';

const HEARTBEAT = 200;
const MISSES = 3;
/** interval x misses = 600 ms, plus generous scheduling margin. */
const DETECTION_BOUND = 1500;
const RECONNECT: BackoffOptions = { initialDelay: 50, factor: 2, maxDelay: 200, jitter: 0 };

describe('half-open connection (blackholing proxy)', () => {
  const defer = useCleanup();

  async function setup() {
    // minHeartbeat lowered so the provider grants the 200 ms the consumer proposes.
    const srv = defer(await startServer({ minHeartbeat: 50 }), (s) => s.close());
    const proxy = defer(await TcpProxy.start(srv.port), (p) => p.close());
    const client = defer(
      newClient(proxy.address, { heartbeat: HEARTBEAT, heartbeatMisses: MISSES, timeout: 30_000, connectTimeout: 300, reconnect: RECONNECT }),
      (c) => c.close(),
    );
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('before')).toBe('before');
    const [conn] = client.connections();
    expect(conn!.heartbeat).toBe(HEARTBEAT);
    return { srv, proxy, client, events, echo, firstId: conn!.id };
  }

  it('is detected within interval x misses; calls in flight fail with CONNECTION_LOST_WRITTEN; it reconnects once traffic flows', async () => {
    const { proxy, client, events, echo, firstId } = await setup();

    proxy.blackhole();
    const t0 = performance.now();
    // Long timeouts: only the heartbeat can end these calls early.
    const inFlight = [track(echo.sleep(10)), track(echo.echo('lost 1')), track(echo.echo('lost 2'))];

    await waitFor(() => events.disconnects.length > 0, 3000, 'the heartbeat to declare the provider dead');
    const detectedAfter = events.disconnects[0]!.at - t0;
    expect(detectedAfter).toBeLessThan(DETECTION_BOUND);
    // Not earlier than the deadline either (the last byte was read just before the blackhole).
    expect(detectedAfter).toBeGreaterThanOrEqual(HEARTBEAT * MISSES - 100);
    expect(events.disconnects[0]!.reason).toBe('heartbeat-timeout');
    expect(events.disconnects[0]!.info.id).toBe(firstId);

    // The calls failed at once with the connection, not after their 30 s timeout.
    await waitFor(() => inFlight.every((c) => c.settled), 200, 'the calls in flight to fail');
    for (const call of inFlight) {
      expect(call.error).toBeInstanceOf(HeartlineError);
      expect((call.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
      expect(call.at! - t0).toBeLessThan(DETECTION_BOUND);
    }

    // The provider is reconnecting (attempts hang on the blackhole); new calls fail fast.
    await waitFor(() => client.connections().some((c) => c.providerState === 'reconnecting'), 1000, 'a reconnect attempt');
    const asked = performance.now();
    await expectCode(echo.echo('meanwhile'), 'UNAVAILABLE');
    expect(performance.now() - asked).toBeLessThan(100);
    expect(events.reconnects).toEqual([]);

    // At least one reconnect attempt has failed on the blackhole (connect timeout 300 ms).
    await waitFor(() => proxy.accepted >= 3, 2000, 'a second reconnect attempt');
    proxy.forward();

    await waitFor(() => events.reconnects.length > 0, 3000, 'the reconnect event');
    expect(events.reconnects[0]!.address).toBe(proxy.address);
    expect(events.reconnects[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(await echo.echo('after')).toBe('after');
    const [conn] = client.connections();
    expect(client.connections()).toHaveLength(1);
    expect(conn!.id).not.toBe(firstId);
    expect(conn!.state).toBe('ready');
    expect(conn!.providerState).toBe('ready');
    expect(conn!.reconnects).toBe(1);
  });

  it('a connection whose handshake is blackholed fails with CONNECT_FAILED after connectTimeout', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const proxy = defer(await TcpProxy.start(srv.port), (p) => p.close());
    proxy.blackhole();
    const client = defer(newClient(proxy.address, { timeout: 30_000, connectTimeout: 200, reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(client);
    const started = performance.now();
    const err = await expectCode(client.refer(Echo).echo('never'), 'CONNECT_FAILED');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1000);
    expect(err.retrySafe).toBe(true);
    expect(events.connects).toEqual([]);
    // It never became ready: no connect event, but its end is reported (issue #7 B3).
    await waitFor(() => events.disconnects.length === 1, 500, 'the disconnect event');
    expect(events.disconnects.map((d) => d.reason)).toEqual(['connect-failed']);
  });

  it('is detected within the bound even while the consumer keeps sending calls to the dead peer', async () => {
    const { proxy, events, echo, client } = await setup();

    proxy.blackhole();
    const t0 = performance.now();
    const calls: Array<{ sentAt: number; outcome: ReturnType<typeof track> }> = [];
    let n = 0;
    const sender = setInterval(() => calls.push({ sentAt: performance.now(), outcome: track(echo.echo(`blind ${n++}`)) }), 20);
    defer(sender, (s) => clearInterval(s));

    // Mid-way: the consumer is writing all the time, yet reading nothing.
    await sleep(400);
    const [mid] = client.connections();
    expect(mid!.state).toBe('ready');
    expect(mid!.lastWrite).toBeLessThan(100);
    expect(mid!.lastRead).toBeGreaterThanOrEqual(350);
    expect(mid!.inFlight).toBeGreaterThan(5);

    await waitFor(() => events.disconnects.length > 0, 3000, 'the heartbeat to declare the provider dead');
    const detectedAt = events.disconnects[0]!.at;
    await sleep(50); // a few calls after the verdict as well
    clearInterval(sender);
    expect(detectedAt - t0).toBeLessThan(DETECTION_BOUND);
    expect(events.disconnects[0]!.reason).toBe('heartbeat-timeout');

    await waitFor(() => calls.every((c) => c.outcome.settled), 500, 'every call to settle');
    const before = calls.filter((c) => c.sentAt < detectedAt);
    const after = calls.filter((c) => c.sentAt > detectedAt);
    expect(before.length).toBeGreaterThan(10);
    expect(after.length).toBeGreaterThan(0);
    // Written to the dead connection: failed with it, at once.
    for (const { outcome } of before) {
      expect(outcome.error).toBeInstanceOf(HeartlineError);
      expect((outcome.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
      expect(outcome.at! - detectedAt).toBeLessThan(50);
    }
    // Made while the provider is reconnecting: refused at once.
    for (const { sentAt, outcome } of after) {
      expect((outcome.error as HeartlineError).code).toBe('UNAVAILABLE');
      expect(outcome.at! - sentAt).toBeLessThan(50);
    }
    proxy.forward();
  });
});
