// The consumer's own event loop stalls (a long synchronous task, a GC pause)
// for longer than heartbeat x misses. Its heartbeat timers then fire late;
// the provider did nothing wrong and the connection must survive.
import { afterEach, describe, expect, it } from 'vitest';
import { startChildProvider, type ChildProvider } from '../helpers/child-process.js';
import { Echo } from '../helpers/contract.js';
import { newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, sleep } from './util.js';

const HEARTBEAT = 100;
const MISSES = 3;
const STALL = 1000; // > HEARTBEAT x MISSES

/** Blocks the event loop for `ms`. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe('consumer event-loop stall', () => {
  const defer = useCleanup();
  const children: ChildProvider[] = [];

  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.dispose()));
  });

  it('a response that arrived during the stall is seen before the verdict: the call succeeds, the connection stays', async () => {
    const provider = await startChildProvider(0, { minHeartbeat: 50 });
    children.push(provider);
    const client = defer(newClient(provider.address, { heartbeat: HEARTBEAT, heartbeatMisses: MISSES, timeout: 5000 }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('before')).toBe('before');
    const id = client.connections()[0]!.id;

    const call = track(echo.sleep(20)); // answered by the other process while we are stalled
    await new Promise<void>((resolve) => setTimeout(() => (stall(STALL), resolve()), 5));
    await waitFor(() => call.settled, 1000, 'the call');
    expect(call.value).toBe(20);
    await sleep(2 * HEARTBEAT);
    expect(events.disconnects).toEqual([]);
    expect(client.connections().map((c) => c.id)).toEqual([id]);
  });

  it('an idle connection survives the stall: the provider is given a ping round trip before being declared dead', async () => {
    const srv = defer(await startServer({ minHeartbeat: 50 }), (s) => s.close());
    const client = defer(newClient(srv.address, { heartbeat: HEARTBEAT, heartbeatMisses: MISSES, timeout: 5000 }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('before')).toBe('before');
    await waitFor(() => client.connections()[0]!.rtt !== undefined, 1000, 'a first ping');
    const id = client.connections()[0]!.id;

    stall(STALL); // nothing was in flight: nothing could arrive meanwhile

    await sleep(3 * HEARTBEAT);
    expect(events.disconnects.map((d) => d.reason)).toEqual([]);
    expect(client.connections().map((c) => c.id)).toEqual([id]);
    expect(await echo.echo('after')).toBe('after');
  });
});
