// A2: a peer floods pings and never reads the pongs. The victim must cut it off
// ('too-many-pings') without stalling its event loop or growing its memory,
// and keep serving everyone else.
//
// The provider runs in this process, with the flooder and a well-behaved
// client: lag and RSS are measured for all three together, which bounds the
// provider's own from above (a child provider would need a stats channel and
// would hide nothing the in-process one shows).
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import { encodeFrame, writeHeader } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse } from '../helpers/fake-provider.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, recordServerEvents, sleep } from '../lifecycle/util.js';

const PINGS = 500_000;
const SLICE = 1024 * 1024;
const MAX_LAG_MS = 50;
const MAX_RSS_GROWTH = 100 * 1024 * 1024;

/** `count` ping frames (16 bytes each, ids 1..count) in one buffer. */
function pingFlood(count: number): Buffer {
  const out = Buffer.allocUnsafe(count * HEADER_SIZE);
  for (let i = 0; i < count; i++) writeHeader(out, i * HEADER_SIZE, 0xe0, 0, FrameType.Heartbeat, i + 1, 0);
  return out;
}

/** Writes `bytes` in large slices, as fast as the socket takes them (never waits for drain). */
function writeInSlices(socket: Socket, bytes: Buffer): void {
  for (let at = 0; at < bytes.length && !socket.destroyed; at += SLICE) socket.write(bytes.subarray(at, at + SLICE));
}

/** Event-loop lag (monitorEventLoopDelay plus a 5 ms setInterval drift probe) and peak RSS, from now. */
function watchVictim(): { stop(): { lagMs: number; driftMs: number; rssGrowth: number } } {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let last = performance.now();
  let drift = 0;
  const probe = setInterval(() => {
    const t = performance.now();
    drift = Math.max(drift, t - last - 5);
    last = t;
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 5);
  return {
    stop() {
      clearInterval(probe);
      histogram.disable();
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      return { lagMs: histogram.max / 1e6, driftMs: drift, rssGrowth: rssPeak - rssBefore };
    },
  };
}

describe('ping flood', () => {
  const defer = useCleanup();

  it('a consumer flooding a provider with 500k pings is cut off (too-many-pings); the provider stays responsive', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = defer(newClient(srv.address, { timeout: 1000 }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('warm up')).toBe('warm up');

    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    raw.socket.pause(); // never reads a pong
    const flood = pingFlood(PINGS);
    const victim = watchVictim();

    // The well-behaved client calls in parallel, before, during and after the flood: 5 calls every 5 ms.
    let ok = 0;
    const failures: unknown[] = [];
    const inFlight: Array<Promise<void>> = [];
    const caller = setInterval(() => {
      for (let i = 0; i < 5; i++) inFlight.push(echo.echo(i).then(() => void ok++, (err: unknown) => void failures.push(err)));
    }, 5);

    await sleep(50);
    const floodAt = performance.now();
    writeInSlices(raw.socket, flood);
    await waitFor(() => serverEvents.disconnects.length > 0, 5000, 'the flooder to be disconnected');
    const cutOffMs = serverEvents.disconnects[0]!.at - floodAt;
    expect(await raw.closedWithin(1000)).toBe(true);
    await sleep(300);
    clearInterval(caller);
    await Promise.all(inFlight);
    const { lagMs, driftMs, rssGrowth } = victim.stop();

    console.info(`provider flood: cut off after ${cutOffMs.toFixed(1)} ms; lag max ${lagMs.toFixed(1)} ms, drift max ${driftMs.toFixed(1)} ms, RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB; ${ok} calls ok`);
    expect(serverEvents.disconnects.map((d) => d.reason)).toEqual(['too-many-pings']);
    expect(lagMs).toBeLessThan(MAX_LAG_MS);
    expect(driftMs).toBeLessThan(MAX_LAG_MS);
    expect(rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(srv.server.connections()).toHaveLength(1); // the client's connection is untouched
  });

  it('a provider flooding a consumer with 500k pings is cut off (too-many-pings); calls with 1 s timeouts settle on time', async () => {
    const flood = pingFlood(PINGS);
    let flooded = false;
    const fake = defer(
      await FakeProvider.start(({ socket }) => {
        // The first call triggers the flood; no call is ever answered.
        if (!flooded) {
          flooded = true;
          writeInSlices(socket, flood);
        }
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { timeout: 1000, reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
    const events = recordClientEvents(client);
    const victim = watchVictim();
    const started = performance.now();
    const calls = Array.from({ length: 20 }, (_, i) => track(client.refer(Echo).echo(i)));

    await waitFor(() => calls.every((c) => c.settled), 3000, 'every call to settle');
    await waitFor(() => events.disconnects.length > 0, 1000, 'the disconnect event');
    const { lagMs, driftMs, rssGrowth } = victim.stop();
    const slowest = Math.max(...calls.map((c) => c.at! - started));

    console.info(`consumer flood: disconnected after ${(events.disconnects[0]!.at - started).toFixed(1)} ms; slowest call ${slowest.toFixed(1)} ms; lag max ${lagMs.toFixed(1)} ms, drift max ${driftMs.toFixed(1)} ms, RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB`);
    expect(flooded).toBe(true);
    expect(events.disconnects.map((d) => d.reason)).toEqual(['too-many-pings']);
    expect(slowest).toBeLessThan(1000 + 200);
    for (const call of calls) {
      expect(call.error).toBeInstanceOf(HeartlineError);
      expect(['CONNECTION_LOST_WRITTEN', 'TIMEOUT']).toContain((call.error as HeartlineError).code);
    }
    expect(lagMs).toBeLessThan(MAX_LAG_MS);
    expect(driftMs).toBeLessThan(MAX_LAG_MS);
    expect(rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('a consumer answers a provider that pings within the limit, and stays connected', async () => {
    let providerSocket: Socket | undefined;
    const fake = defer(
      await FakeProvider.start(() => undefined, {
        onHandshake: (frame, socket) => {
          providerSocket = socket;
          socket.write(handshakeResponse(frame.id, 0, encodeBody({ version: 1, maxFrameSize: 1 << 20, heartbeat: 100, idleTimeout: 0 })));
        },
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { heartbeat: 100 }), (c) => c.close());
    const events = recordClientEvents(client);
    void track(client.refer(Echo).echo('open')); // opens the connection; never answered
    await waitFor(() => providerSocket !== undefined && client.connections()[0]?.state === 'ready', 1000, 'the handshake');
    // A burst of PING_BURST, then one ping every 50 ms (= interval / 2) for 1 s.
    for (let id = 1; id <= 10; id++) providerSocket!.write(encodeFrame(0xe0, 0, FrameType.Heartbeat, id));
    for (let id = 11; id <= 30; id++) {
      await sleep(52);
      providerSocket!.write(encodeFrame(0xe0, 0, FrameType.Heartbeat, id));
    }
    await waitFor(() => fake.pongs.length === 30, 1000, 'every pong');
    expect(fake.pongs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(events.disconnects).toEqual([]);
    expect(client.connections()[0]!.state).toBe('ready');
  });
});
