// A frozen provider (SIGSTOP): its kernel keeps the sockets open and even
// acknowledges our bytes, but nothing answers. Only the heartbeat can notice.
import { afterEach, describe, expect, it } from 'vitest';
import { HeartlineError, type BackoffOptions } from '../../src/index.js';
import { startChildProvider, type ChildProvider } from '../helpers/child-process.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, newClient, track, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, sleep } from './util.js';

const HEARTBEAT = 200;
const MISSES = 3;
const DETECTION_BOUND = 1500;
const RECONNECT: BackoffOptions = { initialDelay: 50, factor: 2, maxDelay: 200, jitter: 0 };

describe('frozen provider (SIGSTOP / SIGCONT)', () => {
  const defer = useCleanup();
  const children: ChildProvider[] = [];

  afterEach(async () => {
    // SIGKILL also ends a stopped process.
    await Promise.all(children.splice(0).map((c) => c.dispose()));
  });

  it('is declared dead within interval x misses, fails calls in flight at once, and traffic returns after SIGCONT', async () => {
    const provider = await startChildProvider(0, { minHeartbeat: 50 });
    children.push(provider);
    const client = defer(
      newClient(provider.address, { heartbeat: HEARTBEAT, heartbeatMisses: MISSES, timeout: 30_000, connectTimeout: 300, reconnect: RECONNECT }),
      (c) => c.close(),
    );
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('before')).toBe('before');
    const [first] = client.connections();
    expect(first!.heartbeat).toBe(HEARTBEAT);

    provider.pause();
    const t0 = performance.now();
    const inFlight = [track(echo.sleep(10)), track(echo.echo('frozen 1')), track(echo.echo('frozen 2'))];

    await waitFor(() => events.disconnects.length > 0, 3000, 'the heartbeat to declare the provider dead');
    const detectedAfter = events.disconnects[0]!.at - t0;
    expect(detectedAfter).toBeLessThan(DETECTION_BOUND);
    expect(detectedAfter).toBeGreaterThanOrEqual(HEARTBEAT * MISSES - 100);
    expect(events.disconnects[0]!.reason).toBe('heartbeat-timeout');

    await waitFor(() => inFlight.every((c) => c.settled), 200, 'the calls in flight to fail');
    for (const call of inFlight) {
      expect(call.error).toBeInstanceOf(HeartlineError);
      expect((call.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
    }

    // Still frozen: reconnect attempts connect at the TCP level but never get a handshake.
    await waitFor(() => client.connections().some((c) => c.providerState === 'reconnecting'), 1000, 'a reconnect attempt');
    await expectCode(echo.echo('meanwhile'), 'UNAVAILABLE');
    await sleep(400); // at least one attempt times out (connectTimeout 300)
    expect(events.reconnects).toEqual([]);
    expect(client.connections().every((c) => c.state !== 'ready')).toBe(true);

    provider.resume();
    await waitFor(() => events.reconnects.length > 0, 3000, 'the reconnect after SIGCONT');
    expect(events.reconnects[0]!.address).toBe(provider.address);
    expect(await echo.echo('after')).toBe('after');
    const [conn] = client.connections();
    expect(conn!.id).not.toBe(first!.id);
    expect(conn!.providerState).toBe('ready');
  });
});
