// collectMetrics: label caps, close(), options, several clients, and the channel-fed series the scrape test does not reach.
import { hasSubscribers } from 'node:diagnostics_channel';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, Provider, Service, type Client } from '../../src/index.js';
import { HistogramSeries } from '../../src/metrics/aggregated-histogram.js';
import { LabelCap } from '../../src/metrics/label-cap.js';
import { collectMetrics, type MetricsOptions } from '../../src/metrics/index.js';
import { Calc, Echo, Greeter } from '../helpers/contract.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectCode, freePort, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { sample } from './scrape-text.js';

const defer = useCleanup();

/** Polls a sample until `ok(value)` (registry.metrics() is async, waitFor's predicate is not). */
async function waitForValue(registry: Registry, name: string, ok: (v: number) => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 3000;
  while (!ok((await value(registry, name)) ?? 0)) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return sample(await registry.metrics(), name, labels);
}

describe('LabelCap', () => {
  it('the first max pairs get their own labels, later ones share <other>; a known pair keeps its labels', () => {
    const cap = new LabelCap(2, () => new HistogramSeries([1]));
    expect(cap.of('a', 'x').labels).toEqual({ service: 'a', method: 'x' });
    expect(cap.of('a', 'y').labels).toEqual({ service: 'a', method: 'y' });
    expect(cap.of('b', 'x').labels).toEqual({ service: '<other>', method: '<other>' });
    expect(cap.of('a', 'x')).toBe(cap.of('a', 'x')); // no allocation per lookup
    for (let i = 0; i < 10_000; i++) cap.of(`s${i}`, `m${i}`);
    expect(cap.count).toBe(2);
    expect([...cap.sets()].map((set) => set.labels)).toEqual([
      { service: 'a', method: 'x' },
      { service: 'a', method: 'y' },
      { service: '<other>', method: '<other>' },
    ]);
  });
});

describe('HistogramSeries', () => {
  it('counts each value in the first bucket whose bound is >= it; above the last bound only in count and sum', () => {
    const s = new HistogramSeries([0.1, 1]);
    for (const v of [0.05, 0.1, 0.5, 1, 3]) s.observe(v);
    expect([...s.counts]).toEqual([2, 2]);
    expect(s.count).toBe(5);
    expect(s.sum).toBeCloseTo(4.65);
  });
});

describe('collectMetrics', () => {
  it('an OpenMetrics registry (which renames counters as it scrapes): close() still removes everything', async () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const registry = new Registry();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as typeof registry.contentType);
    const metrics = collectMetrics({ registry, clients: [client] });
    expect(await registry.metrics()).toContain('# TYPE heartline_client_calls counter');
    metrics.close();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
  });

  it('maxLabelValues caps the (service, method) pairs on each side', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, clients: [client], servers: [srv.server], maxLabelValues: 2 }), (m) => m.close());
    await client.refer(Echo).echo(1);
    await client.refer(Calc).add(1, 2);
    await client.refer(Greeter).greet('x');
    await client.refer(Greeter).greet('y');
    for (const side of ['client', 'server']) {
      expect(await value(registry, `heartline_${side}_calls_total`, { service: 'test.Echo', method: 'echo', code: 'OK' })).toBe(1);
      expect(await value(registry, `heartline_${side}_calls_total`, { service: 'test.Calc', method: 'add', code: 'OK' })).toBe(1);
      expect(await value(registry, `heartline_${side}_calls_total`, { service: '<other>', method: '<other>', code: 'OK' })).toBe(2);
    }
    expect(await registry.metrics()).not.toContain('test.Greeter');
  });

  it('a hostile peer sending 1000 method names and 1000 service names makes two series', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, servers: [srv.server] }), (m) => m.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    for (let i = 1; i <= 1000; i++) await raw.call(i, ['test.Echo', '1.0.0', '', `m${i}`, [], null]);
    for (let i = 1; i <= 1000; i++) await raw.call(i, [`s${i}`, '', '', 'x', [], null]);
    const text = await registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('heartline_server_calls_total{'));
    expect(series).toEqual([
      'heartline_server_calls_total{service="test.Echo",method="<unknown>",code="METHOD_NOT_FOUND"} 1000',
      'heartline_server_calls_total{service="<unknown>",method="<unknown>",code="SERVICE_NOT_FOUND"} 1000',
    ]);
  });

  it('close() unsubscribes every channel and removes every metric; a new collectMetrics may then take the names', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    const registry = new Registry();
    const names = Object.values(CHANNEL_NAMES);
    expect(names.filter((n) => hasSubscribers(n))).toEqual([]);
    const metrics = collectMetrics({ registry, clients: [client], servers: [srv.server] });
    expect(names.filter((n) => hasSubscribers(n)).length).toBeGreaterThan(0);
    expect((await registry.getMetricsAsJSON()).length).toBe(17);
    metrics.close();
    metrics.close(); // idempotent
    expect(names.filter((n) => hasSubscribers(n))).toEqual([]);
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    await client.refer(Echo).echo(1); // nobody listens: nothing breaks, nothing counted
    const again = collectMetrics({ registry, clients: [client] });
    expect(await value(registry, 'heartline_client_calls_total', { service: 'test.Echo', method: 'echo', code: 'OK' })).toBeUndefined();
    again.close();
  });

  it('the same names twice in one registry: INVALID_CONFIG, and the first collector is untouched', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, clients: [client] }), (m) => m.close());
    expect(() => collectMetrics({ registry, clients: [client] })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('heartline_client_calls_total is already registered') }));
    await client.refer(Echo).echo(1);
    expect(await value(registry, 'heartline_client_calls_total', { service: 'test.Echo', method: 'echo', code: 'OK' })).toBe(1);
    // Another prefix in the same registry works.
    defer(collectMetrics({ registry, clients: [client], prefix: 'other_' }), (m) => m.close());
    await client.refer(Echo).echo(2);
    expect(await value(registry, 'other_client_calls_total', { service: 'test.Echo', method: 'echo', code: 'OK' })).toBe(1);
  });

  it('bad options: INVALID_CONFIG naming the option', () => {
    const client = defer(newClient('127.0.0.1:1'), (c) => c.close());
    const bad: Array<[MetricsOptions, string]> = [
      [{}, 'at least one'],
      [{ clients: [{} as Client] }, 'clients'],
      [{ clients: client as unknown as Client[] }, 'clients'],
      [{ clients: [client], prefix: '9bad' }, 'prefix'],
      [{ clients: [client], buckets: [] }, 'buckets'],
      [{ clients: [client], buckets: [0.1, 0.1] }, 'buckets'],
      [{ clients: [client], buckets: [NaN] }, 'buckets'],
      [{ clients: [client], maxLabelValues: 0 }, 'maxLabelValues'],
      [{ clients: [client], maxLabelValues: 1.5 }, 'maxLabelValues'],
      [{ clients: [client], registry: {} as Registry }, 'registry'],
    ];
    for (const [options, name] of bad) {
      expect(() => collectMetrics(options), name).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(name) }));
    }
  });

  it('two clients in one process, one collector each: each counts only its own calls', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const a = defer(newClient(srv.address), (c) => c.close());
    const b = defer(newClient(srv.address), (c) => c.close());
    const ra = new Registry();
    const rb = new Registry();
    defer(collectMetrics({ registry: ra, clients: [a] }), (m) => m.close());
    defer(collectMetrics({ registry: rb, clients: [b] }), (m) => m.close());
    await a.refer(Echo).echo(1);
    await b.refer(Echo).echo(1);
    await b.refer(Echo).echo(2);
    const labels = { service: 'test.Echo', method: 'echo', code: 'OK' };
    expect(await value(ra, 'heartline_client_calls_total', labels)).toBe(1);
    expect(await value(rb, 'heartline_client_calls_total', labels)).toBe(2);
    expect(await value(ra, 'heartline_client_sent_bytes_total')).toBe(a.connections()[0]!.bytesOut);
    expect(await value(rb, 'heartline_client_sent_bytes_total')).toBe(b.connections()[0]!.bytesOut);
  });

  it('reconnects, heartbeat round trips, calls waiting for actives, refusals by accepts', async () => {
    const port = await freePort();
    let srv = await startServer({ port, minHeartbeat: 50, accepts: 1 });
    const client = defer(newClient(srv.address, { heartbeat: 50, reconnect: { initialDelay: 10, maxDelay: 20 } }), (c) => c.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, clients: [client], servers: [srv.server] }), (m) => m.close());
    const echo = client.refer(Echo, { actives: 1 });
    await echo.echo(1);
    await waitForValue(registry, 'heartline_client_heartbeat_rtt_seconds_count', (n) => n >= 2, 'two pongs');

    const sleeping = [echo.sleep(100), echo.sleep(100), echo.sleep(100)];
    expect(await value(registry, 'heartline_client_calls_waiting')).toBe(2);
    expect(await value(registry, 'heartline_client_calls_in_flight')).toBe(3);
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the first sleep');
    expect(await value(registry, 'heartline_server_calls_executing')).toBe(1);
    const other = defer(newClient(srv.address, { reconnect: { initialDelay: 5000 } }), (c) => c.close());
    await expectCode(other.refer(Echo).echo(1), 'LIMIT_EXCEEDED');
    expect(await value(registry, 'heartline_server_refusals_total', { limit: 'accepts' })).toBe(1);
    await Promise.all(sleeping);

    await srv.close();
    srv = defer(await startServer({ port, minHeartbeat: 50 }), (s) => s.close());
    await waitForValue(registry, 'heartline_client_reconnects_total', (n) => n === 1, 'the reconnect');
    expect(await value(registry, 'heartline_client_heartbeat_rtt_seconds_sum')).toBeGreaterThan(0);
  });

  it('pushes to consumer callbacks, by code', async () => {
    @Service('metrics.Ticker', { methods: { tick: { callbacks: [0] } } })
    abstract class Ticker {
      abstract tick(listener: (n: number) => unknown, times: number): Promise<void>;
    }
    @Provider(Ticker)
    class TickerImpl implements Ticker {
      async tick(listener: (n: number) => unknown, times: number): Promise<void> {
        for (let i = 0; i < times; i++) await Promise.resolve(listener(i)).catch(() => undefined);
      }
    }
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    srv.server.register(new TickerImpl());
    const client = defer(newClient(srv.address), (c) => c.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, servers: [srv.server] }), (m) => m.close());
    await client.refer(Ticker).tick((n) => {
      if (n % 2 === 1) throw new Error('odd');
    }, 5);
    expect(await value(registry, 'heartline_server_pushes_total', { code: 'OK' })).toBe(3);
    expect(await value(registry, 'heartline_server_pushes_total', { code: 'HANDLER_ERROR' })).toBe(2);
  });
});
