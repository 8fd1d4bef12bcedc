// Review of #11 (metrics, connection counters): what the provider counts must
// be what its consumer heard. A handler that succeeds with a result the
// provider cannot send (over the consumer's maxFrameSize, or not encodable)
// is answered PAYLOAD_TOO_LARGE / SERIALIZATION_ERROR: the provider's
// server_calls_total, callsDone and lastError must say so, not `OK`.
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { channels } from '../../src/context/channels.js';
import { collectMetrics } from '../../src/metrics/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, newClient, startServer, useCleanup } from '../helpers/server.js';
import { sample } from '../metrics/scrape-text.js';

const defer = useCleanup();

describe('provider metrics and counters for a result that cannot be sent', () => {
  it('a result over the consumer frame limit, and one MessagePack cannot carry: counted with the code the consumer got', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const registry = new Registry();
    defer(collectMetrics({ registry, servers: [srv.server] }), (m) => m.close());
    const client = defer(newClient(srv.address, { cluster: 'failfast', maxFrameSize: 4096 }), (c) => c.close());
    const echo = client.refer(Echo);
    await expectCode(echo.blob(10_000), 'PAYLOAD_TOO_LARGE');
    const [conn] = srv.server.connections();
    expect(conn!.lastError?.code).toBe('PAYLOAD_TOO_LARGE');
    await expectCode(echo.symbol(), 'SERIALIZATION_ERROR');
    expect(srv.server.connections()[0]!.lastError?.code).toBe('SERIALIZATION_ERROR');
    expect(srv.server.connections()[0]!.callsDone).toBe(2);
    const text = await registry.metrics();
    expect(sample(text, 'heartline_server_calls_total', { service: 'test.Echo', method: 'blob', code: 'OK' })).toBeUndefined();
    expect(sample(text, 'heartline_server_calls_total', { service: 'test.Echo', method: 'blob', code: 'PAYLOAD_TOO_LARGE' })).toBe(1);
    expect(sample(text, 'heartline_server_calls_total', { service: 'test.Echo', method: 'symbol', code: 'SERIALIZATION_ERROR' })).toBe(1);
  });
});

describe('no collector, no channel message', () => {
  it('heartline:client:heartbeat: nothing is published (no message built) while nobody subscribes', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address, { heartbeat: 30 }), (c) => c.close());
    expect(channels.clientHeartbeat.hasSubscribers).toBe(false);
    const publish = vi.spyOn(channels.clientHeartbeat, 'publish');
    defer(publish, (p) => p.mockRestore());
    await client.refer(Echo).echo(1);
    await new Promise((resolve) => setTimeout(resolve, 150)); // several heartbeats
    expect(publish).not.toHaveBeenCalled();
  });
});

describe('heartline.Reflection#listConnections past the consumer frame limit', () => {
  it('fails with PAYLOAD_TOO_LARGE (no hang, no protocol error), and the connection stays usable', async () => {
    const { Reflection } = await import('../../src/index.js');
    const srv = defer(await startServer(), (s) => s.close());
    // Enough connections that their reports (~100 bytes each) pass the 1 KiB frame limit.
    for (let i = 0; i < 16; i++) {
      const other = defer(newClient(srv.address, { cluster: 'failfast' }), (c) => c.close());
      await expectCode(other.refer(Echo).fail('z'), 'HANDLER_ERROR');
    }
    const client = defer(newClient(srv.address, { cluster: 'failfast', maxFrameSize: 1024 }), (c) => c.close());
    const reflection = client.refer(Reflection);
    await expectCode(reflection.listConnections(), 'PAYLOAD_TOO_LARGE');
    expect((await reflection.listServices()).length).toBeGreaterThan(0);
    const mine = srv.server.connections().find((c) => c.lastError?.code === 'PAYLOAD_TOO_LARGE');
    expect(mine).toBeDefined();
  });
});
