// A2: a peer floods pings and never reads the pongs. The victim must cut it off
// ('too-many-pings') without stalling its event loop or growing its memory,
// and keep serving everyone else.
//
// What proves it does not depend on the machine's speed or load: the work the
// victim does for the flood is counted in frames and bytes, and must be a
// constant (PING_BURST pings answered, one refused, then nothing more decoded)
// rather than grow with the flood's 500k pings (7.6 MiB); and the time the
// flood holds the event loop is measured where it is spent, as the CPU time of
// the victim's decoder handling the flood's bytes (its 'data' handling, pongs
// included), which a loaded machine does not inflate. The event loop's lag is
// printed, with a baseline measured in the same test without the flood, but
// not asserted: on a loaded 2-core machine the maximum lag of two half-second
// windows without any flood differs by more than 100 ms, so no bound on it is
// both stable and able to fail.
//
// The provider runs in this process, with the flooder and a well-behaved
// client: lag and RSS are measured for all three together, which bounds the
// provider's own from above (a child provider would need a stats channel and
// would hide nothing the in-process one shows).
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { HeartlineError } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { FrameType, HEADER_SIZE, PING_BURST } from '../../src/protocol/constants.js';
import { encodeFrame, isRequest, writeHeader, type FrameHeader } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { FrameWriter } from '../../src/transport/frame-writer.js';
import { Transport } from '../../src/transport/transport.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse } from '../helpers/fake-provider.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, recordServerEvents, sleep } from '../lifecycle/util.js';

const PINGS = 500_000;
const SLICE = 1024 * 1024;
/** Bytes of the flood (7.6 MiB) the victim may read before it closes the socket: a few socket reads at most. */
const MAX_BYTES_READ = 512 * 1024;
/** CPU time the victim may spend handling the flood's bytes, in ms (it takes well under 1 ms). */
const MAX_FLOOD_CPU_MS = 25;
/** How long the lag is measured without a flood, first. */
const BASELINE_MS = 500;
/** A coarse bound: the precise one on memory is the bytes read and the pongs queued. */
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
function watchLoop(): { stop(): { lagMs: number; driftMs: number; rssGrowth: number } } {
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

/** The lag of the event loop over `ms` as it is now (the baseline a flood is compared with). */
async function baselineLag(ms: number): Promise<{ lagMs: number; driftMs: number }> {
  const watch = watchLoop();
  await sleep(ms);
  return watch.stop();
}

/**
 * Counts what every Transport in this process does with pings from now on:
 * the ping frames its decoder delivers, the pongs it queues, and the CPU time
 * its decoder spends on each chunk read (the frames' handling included). The
 * victim of a flood is the one transport that received pings.
 */
function countPingWork(defer: <T>(value: T, dispose: (value: T) => unknown) => T) {
  const push = FrameDecoder.prototype.push;
  const cpu = new Map<FrameDecoder, number>();
  defer(
    vi.spyOn(FrameDecoder.prototype, 'push').mockImplementation(function (this: FrameDecoder, chunk: Buffer) {
      const before = process.cpuUsage();
      push.call(this, chunk);
      const spent = process.cpuUsage(before);
      cpu.set(this, (cpu.get(this) ?? 0) + (spent.user + spent.system) / 1000);
    }),
    (s) => s.mockRestore(),
  );
  const frames = defer(vi.spyOn(Transport.prototype, 'onFrame'), (s) => s.mockRestore());
  const pongs = defer(vi.spyOn(FrameWriter.prototype, 'writeUrgent'), (s) => s.mockRestore());
  return {
    /** The transports that received pings; for the first: how many, the pongs it queued, the bytes its socket read, the CPU ms its decoder used. */
    victim(): { transports: number; pings: number; pongs: number; bytesRead: number; cpuMs: number } {
      const pinged = new Map<Transport, number>();
      frames.mock.calls.forEach(([header], i) => {
        const transport = frames.mock.contexts[i] as Transport;
        if ((header as FrameHeader).type === FrameType.Heartbeat && isRequest((header as FrameHeader).flags)) pinged.set(transport, (pinged.get(transport) ?? 0) + 1);
      });
      const [transport, pings] = [...pinged][0] ?? [undefined, 0];
      const queued = pongs.mock.contexts.filter((writer, i) => writer === transport?.writer && pongs.mock.results[i]?.value !== 0).length;
      return {
        transports: pinged.size,
        pings,
        pongs: queued,
        bytesRead: transport?.socket.bytesRead ?? 0,
        cpuMs: transport === undefined ? 0 : cpu.get(transport.decoder) ?? 0,
      };
    },
  };
}

describe('ping flood', () => {
  const defer = useCleanup();

  it('a consumer flooding a provider with 500k pings is cut off (too-many-pings) after PING_BURST; the provider stays responsive', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = defer(newClient(srv.address, { timeout: 1000 }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('warm up')).toBe('warm up');

    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    raw.socket.pause(); // never reads a pong
    const flood = pingFlood(PINGS);

    // The well-behaved client calls in parallel, before, during and after the flood: 5 calls every 5 ms.
    let ok = 0;
    const failures: unknown[] = [];
    const inFlight: Array<Promise<void>> = [];
    const caller = setInterval(() => {
      for (let i = 0; i < 5; i++) inFlight.push(echo.echo(i).then(() => void ok++, (err: unknown) => void failures.push(err)));
    }, 5);

    await sleep(50);
    const baseline = await baselineLag(BASELINE_MS); // the same traffic, no flood
    const work = countPingWork(defer);
    const victim = watchLoop();
    const floodAt = performance.now();
    writeInSlices(raw.socket, flood);
    await waitFor(() => serverEvents.disconnects.length > 0, 5000, 'the flooder to be disconnected');
    const cutOffMs = serverEvents.disconnects[0]!.at - floodAt;
    expect(await raw.closedWithin(1000)).toBe(true);
    await sleep(300);
    clearInterval(caller);
    await Promise.all(inFlight);
    const { lagMs, driftMs, rssGrowth } = victim.stop();
    const done = work.victim();

    console.info(
      `provider flood: cut off after ${cutOffMs.toFixed(1)} ms, ${done.pings} pings decoded, ${done.pongs} pongs queued, ${(done.bytesRead / 1024).toFixed(0)} KiB read of ${(flood.length / 1024).toFixed(0)}, ${done.cpuMs.toFixed(2)} ms CPU; ` +
        `lag max ${lagMs.toFixed(1)} ms (${baseline.lagMs.toFixed(1)} without the flood), drift max ${driftMs.toFixed(1)} ms (${baseline.driftMs.toFixed(1)}), RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB; ${ok} calls ok`,
    );
    expect(serverEvents.disconnects.map((d) => d.reason)).toEqual(['too-many-pings']);
    // The provider's work for the flood is a constant, whatever the flood's size and the machine's load:
    // PING_BURST pings answered, the next one refused, nothing more decoded, little read, little CPU.
    expect(done.transports).toBe(1);
    expect(done.pings).toBe(PING_BURST + 1);
    expect(done.pongs).toBe(PING_BURST);
    expect(done.bytesRead).toBeLessThan(MAX_BYTES_READ);
    expect(done.cpuMs).toBeLessThan(MAX_FLOOD_CPU_MS);
    expect(rssGrowth).toBeLessThan(MAX_RSS_GROWTH);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(srv.server.connections()).toHaveLength(1); // the client's connection is untouched
  });

  it('a provider flooding a consumer with 500k pings is cut off (too-many-pings) after PING_BURST; calls with 1 s timeouts settle on time', async () => {
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
    const baseline = await baselineLag(BASELINE_MS);
    const work = countPingWork(defer);
    const victim = watchLoop();
    const started = performance.now();
    const calls = Array.from({ length: 20 }, (_, i) => track(client.refer(Echo).echo(i)));

    await waitFor(() => calls.every((c) => c.settled), 3000, 'every call to settle');
    await waitFor(() => events.disconnects.length > 0, 1000, 'the disconnect event');
    const { lagMs, driftMs, rssGrowth } = victim.stop();
    const done = work.victim();
    const slowest = Math.max(...calls.map((c) => c.at! - started));

    console.info(
      `consumer flood: disconnected after ${(events.disconnects[0]!.at - started).toFixed(1)} ms, ${done.pings} pings decoded, ${done.pongs} pongs queued, ${(done.bytesRead / 1024).toFixed(0)} KiB read, ${done.cpuMs.toFixed(2)} ms CPU; slowest call ${slowest.toFixed(1)} ms; ` +
        `lag max ${lagMs.toFixed(1)} ms (${baseline.lagMs.toFixed(1)} without the flood), drift max ${driftMs.toFixed(1)} ms (${baseline.driftMs.toFixed(1)}), RSS growth ${(rssGrowth / 1048576).toFixed(1)} MiB`,
    );
    expect(flooded).toBe(true);
    expect(events.disconnects.map((d) => d.reason)).toEqual(['too-many-pings']);
    expect(done.transports).toBe(1);
    expect(done.pings).toBe(PING_BURST + 1);
    expect(done.pongs).toBe(PING_BURST);
    expect(done.bytesRead).toBeLessThan(MAX_BYTES_READ);
    expect(slowest).toBeLessThan(1000 + 200);
    for (const call of calls) {
      expect(call.error).toBeInstanceOf(HeartlineError);
      expect(['CONNECTION_LOST_WRITTEN', 'TIMEOUT']).toContain((call.error as HeartlineError).code);
    }
    expect(done.cpuMs).toBeLessThan(MAX_FLOOD_CPU_MS);
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
