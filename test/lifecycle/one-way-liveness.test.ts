// B1: a consumer that only sends one-way calls writes all the time and reads
// nothing back. Its ping clock must still ping (nothing READ for an interval),
// or its own liveness clock declares a healthy provider dead.
import { describe, expect, it } from 'vitest';
import { Echo } from '../helpers/contract.js';
import { newClient, startServer, useCleanup } from '../helpers/server.js';
import { recordClientEvents, recordServerEvents, sleep } from './util.js';

const HEARTBEAT = 100;
const MISSES = 3;

describe('one-way traffic and the heartbeat (B1)', () => {
  const defer = useCleanup();

  it(`one-way calls every 50 ms for 10 x heartbeat x misses (${10 * HEARTBEAT * MISSES} ms) cause 0 disconnects`, async () => {
    const srv = defer(await startServer({ minHeartbeat: 50 }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = defer(newClient(srv.address, { heartbeat: HEARTBEAT, heartbeatMisses: MISSES, timeout: 5000 }), (c) => c.close());
    const clientEvents = recordClientEvents(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('open')).toBe('open');
    const [conn] = client.connections();
    expect(conn!.heartbeat).toBe(HEARTBEAT);

    let sent = 0;
    const failures: unknown[] = [];
    const sender = defer(
      setInterval(() => {
        sent++;
        echo.notify(sent, 0).catch((err: unknown) => failures.push(err));
      }, 50),
      (t) => clearInterval(t),
    );
    await sleep(10 * HEARTBEAT * MISSES);
    clearInterval(sender);

    expect(clientEvents.disconnects).toEqual([]);
    expect(serverEvents.disconnects).toEqual([]);
    expect(failures).toEqual([]);
    expect(client.connections().map((c) => c.id)).toEqual([conn!.id]);
    expect(client.connections()[0]!.rtt).toBeDefined(); // it pinged although it kept writing
    expect(sent).toBeGreaterThan(40);
    expect(await echo.echo('after')).toBe('after');
  });
});
