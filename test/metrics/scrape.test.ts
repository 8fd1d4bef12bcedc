// heartline/metrics end to end: known calls, then /metrics scraped over HTTP and every counter checked exactly.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ConnectionInfo } from '../../src/index.js';
import { collectMetrics } from '../../src/metrics/index.js';
import { Echo, EchoImpl } from '../helpers/contract.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { sample } from './scrape-text.js';

/** Serves `registry` at /metrics on 127.0.0.1, port 0. */
async function serveMetrics(registry: Registry): Promise<{ url: string; http: HttpServer }> {
  const http = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`, http };
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

describe('heartline/metrics over HTTP', () => {
  const defer = useCleanup();

  it('counts what happened: successes, a handler error, LIMIT_EXCEEDED, unknown methods; gauges and bytes at scrape time', async () => {
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    const impl = new EchoImpl();
    srv.server.register(Echo, impl, { methods: { sleep: { executes: 1 } } });
    const client = defer(newClient(srv.address), (c) => c.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, clients: [client], servers: [srv.server] }), (m) => m.close());
    const { url, http } = defer(await serveMetrics(registry), (s) => new Promise((resolve) => s.http.close(resolve)));
    expect(http.listening).toBe(true);

    const echo = client.refer(Echo, { cluster: 'failfast' });
    for (let i = 0; i < 3; i++) expect(await echo.echo(i)).toBe(i);
    await expectCode(echo.fail('no'), 'HANDLER_ERROR');
    const running = echo.sleep(100);
    await waitFor(() => impl.sleepsStarted === 1, 1000, 'the first sleep to run');
    await expectCode(echo.sleep(1), 'LIMIT_EXCEEDED');
    expect(await running).toBe(100);
    // A hostile peer names 20 methods that do not exist, and 5 services.
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    for (let i = 0; i < 20; i++) expect((await raw.call(i + 1, ['test.Echo', '1.0.0', '', `nope${i}`, [], null])).code).toBe('METHOD_NOT_FOUND');
    for (let i = 0; i < 5; i++) expect((await raw.call(100 + i, [`evil${i}`, '', '', 'x', [], null])).code).toBe('SERVICE_NOT_FOUND');

    const text = await scrape(url);
    const m = (name: string, labels: Record<string, string> = {}): number | undefined => sample(text, `heartline_${name}`, labels);
    const echoLabels = { service: 'test.Echo', method: 'echo' };
    // Consumer.
    expect(m('client_calls_total', { ...echoLabels, code: 'OK' })).toBe(3);
    expect(m('client_calls_total', { service: 'test.Echo', method: 'fail', code: 'HANDLER_ERROR' })).toBe(1);
    expect(m('client_calls_total', { service: 'test.Echo', method: 'sleep', code: 'OK' })).toBe(1);
    expect(m('client_calls_total', { service: 'test.Echo', method: 'sleep', code: 'LIMIT_EXCEEDED' })).toBe(1);
    expect(m('client_call_duration_seconds_count', echoLabels)).toBe(3);
    expect(m('client_call_duration_seconds_count', { service: 'test.Echo', method: 'sleep' })).toBe(2);
    expect(m('client_call_duration_seconds_sum', { service: 'test.Echo', method: 'sleep' })).toBeGreaterThanOrEqual(0.09);
    // Cumulative buckets: the 100 ms sleep is above 0.05 s, the refused one far below; both within 10 s and +Inf.
    const sleepLabels = { service: 'test.Echo', method: 'sleep' };
    expect(m('client_call_duration_seconds_bucket', { ...sleepLabels, le: '+Inf' })).toBe(2);
    expect(m('client_call_duration_seconds_bucket', { ...sleepLabels, le: '10' })).toBe(2);
    expect(m('client_call_duration_seconds_bucket', { ...sleepLabels, le: '0.05' })).toBe(1);
    expect(m('client_call_duration_seconds_bucket', { ...sleepLabels, le: '0.0005' })).toBeLessThanOrEqual(1);
    expect(m('client_calls_in_flight')).toBe(0);
    expect(m('client_calls_waiting')).toBe(0);
    expect(m('client_connections', { state: 'ready' })).toBe(1);
    expect(m('client_connections', { state: 'connecting' })).toBe(0);
    expect(m('client_reconnects_total')).toBe(0);
    expect(m('client_heartbeat_rtt_seconds_count')).toBe(0); // busy, and 15 s between pings
    const conn = client.connections()[0]!;
    expect(m('client_sent_bytes_total')).toBe(conn.bytesOut);
    expect(m('client_received_bytes_total')).toBe(conn.bytesIn);
    // Provider.
    expect(m('server_calls_total', { ...echoLabels, code: 'OK' })).toBe(3);
    expect(m('server_calls_total', { service: 'test.Echo', method: 'fail', code: 'HANDLER_ERROR' })).toBe(1);
    expect(m('server_calls_total', { service: 'test.Echo', method: 'sleep', code: 'OK' })).toBe(1);
    expect(m('server_calls_total', { service: 'test.Echo', method: 'sleep', code: 'LIMIT_EXCEEDED' })).toBe(1);
    expect(m('server_calls_total', { service: 'test.Echo', method: '<unknown>', code: 'METHOD_NOT_FOUND' })).toBe(20);
    expect(m('server_calls_total', { service: '<unknown>', method: '<unknown>', code: 'SERVICE_NOT_FOUND' })).toBe(5);
    expect(text).not.toMatch(/nope\d|evil\d/); // no name a peer sent
    expect(m('server_call_duration_seconds_count', echoLabels)).toBe(3);
    expect(m('server_calls_executing')).toBe(0);
    expect(m('server_refusals_total', { limit: 'executes' })).toBe(1);
    expect(m('server_refusals_total', { limit: 'maxConcurrentCalls' })).toBe(0);
    expect(m('server_refusals_total', { limit: 'accepts' })).toBe(0);
    expect(m('server_connections', { state: 'ready' })).toBe(2); // the client's and the raw one
    expect(m('server_pushes_total', { code: 'OK' })).toBeUndefined();
    const serverIn = srv.server.connections().reduce((n, c) => n + c.bytesIn, 0);
    expect(m('server_received_bytes_total')).toBe(serverIn);

    // Monotonic across a close: the final counts of a closed connection stay in the totals.
    const closed: ConnectionInfo[] = [];
    client.on('disconnect', (info) => closed.push(info));
    const sentBefore = m('client_sent_bytes_total')!;
    await client.close();
    const after = await scrape(url);
    expect(sample(after, 'heartline_client_sent_bytes_total')).toBe(closed[0]!.bytesOut);
    expect(closed[0]!.bytesOut).toBeGreaterThanOrEqual(sentBefore);
    expect(sample(after, 'heartline_client_connections', { state: 'ready' })).toBe(0);
    expect(sample(after, 'heartline_client_calls_total', { ...echoLabels, code: 'OK' })).toBe(3);
  });
});
