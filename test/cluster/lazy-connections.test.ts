import { afterAll, describe, expect, it, vi } from 'vitest';
import { StaticDirectory } from '../../src/index.js';
import { trackResources } from '../helpers/leaks.js';
import { expectCode, newClient, useCleanup, waitFor } from '../helpers/server.js';
import { sleep, startWorkProvider, Work, expectNothingOpen } from './cluster-helpers.js';

describe('lazy connections and the per-provider pool', () => {
  const defer = useCleanup();

  it('opens no socket before the first call, and exactly one for 1,000 concurrent first calls', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    // async_hooks, not getActiveResourcesInfo(): an idle client socket is unref'd (keepProcessAlive: false) and would not show there.
    const resources = defer(trackResources(), (r) => r.stop());
    const sockets = (): number => resources.alive().filter((type) => type === 'TCPWRAP').length;
    const client = defer(newClient(p.address), (c) => c.close());
    const work = client.refer(Work);
    await sleep(30);
    expect(p.server.connectionsAccepted).toBe(0);
    expect(client.connections()).toHaveLength(0);
    expect(sockets()).toBe(0);

    const results = await Promise.all(Array.from({ length: 1000 }, () => work.whoami()));
    expect(results.every((r) => r === 'a')).toBe(true);
    expect(p.impl.count('whoami')).toBe(1000);
    expect(p.server.connectionsAccepted).toBe(1);
    expect(p.server.connectionCount).toBe(1);
    expect(client.connections()).toHaveLength(1);
    expect(sockets()).toBe(2); // the client's socket and the server's end
  });

  it('connections: 3 opens exactly three sockets and spreads calls over them by fewest in flight', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { connections: 3 }), (c) => c.close());
    const work = client.refer(Work);

    // 30 calls held by the provider: every connection must carry some of them.
    const held = Array.from({ length: 30 }, (_, i) => work.hold(i));
    await waitFor(() => p.impl.count('hold') === 30, 2000, 'all 30 calls to reach the provider');
    expect(p.server.connectionsAccepted).toBe(3);
    const perConnection = p.server.connections().map((c) => c.inFlight);
    expect(perConnection).toHaveLength(3);
    expect(perConnection.reduce((a, b) => a + b, 0)).toBe(30);
    expect(Math.min(...perConnection)).toBeGreaterThanOrEqual(9); // even spread: 10 each, give or take one
    expect(new Set(p.server.connections().map((c) => c.peer)).size).toBe(3); // three distinct local ports
    const consumerSide = client.connections();
    expect(consumerSide).toHaveLength(3);
    expect(consumerSide.map((c) => c.inFlight).sort()).toEqual([...perConnection].sort());

    p.impl.openGate();
    expect(await Promise.all(held)).toHaveLength(30);

    // More traffic never opens a fourth connection.
    await Promise.all(Array.from({ length: 300 }, () => work.whoami()));
    expect(p.server.connectionsAccepted).toBe(3);
    expect(client.connections()).toHaveLength(3);
  });

  it('connections: 3 opens connections only as concurrency needs them', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { connections: 3 }), (c) => c.close());
    const work = client.refer(Work);
    // Sequential calls never have another in flight: one connection is enough.
    for (let i = 0; i < 20; i++) await work.whoami();
    expect(p.server.connectionsAccepted).toBe(1);
  });

  it('eager: true connects to every listed provider when refer() is called', async () => {
    const a = defer(await startWorkProvider('a'), (x) => x.close());
    const b = defer(await startWorkProvider('b'), (x) => x.close());
    const client = defer(newClient(undefined, { eager: true }), (c) => c.close());
    client.refer(Work, { providers: [a.address, b.address] });
    await waitFor(() => a.server.connectionCount === 1 && b.server.connectionCount === 1, 2000, 'both eager connections');
    await waitFor(() => client.connections().filter((c) => c.state === 'ready').length === 2, 2000, 'both ready');
    expect(a.impl.count('whoami') + b.impl.count('whoami')).toBe(0);
    // A second reference to the same providers shares the connections.
    const work = client.refer(Work, { providers: [a.address, b.address] });
    await Promise.all(Array.from({ length: 10 }, () => work.whoami()));
    expect(a.server.connectionsAccepted).toBe(1);
    expect(b.server.connectionsAccepted).toBe(1);
  });

  it('after client.close(), neither an eager refer() nor a provider list update opens a connection', async () => {
    const a = defer(await startWorkProvider('a'), (x) => x.close());
    const b = defer(await startWorkProvider('b'), (x) => x.close());
    const directory = new StaticDirectory([a.address]);
    const client = defer(newClient(undefined, { eager: true }), (c) => c.close());
    client.refer(Work, { providers: directory });
    await waitFor(() => a.server.connectionCount === 1, 2000, 'the eager connection');
    await client.close();
    await waitFor(() => a.server.connectionCount === 0, 2000, 'close() to close it');

    directory.update([a.address, b.address]);
    const late = client.refer(Work, { providers: [b.address] });
    await expectCode(late.whoami(), 'CLIENT_CLOSED');
    await sleep(100);
    expect(client.connections()).toEqual([]);
    expect(a.server.connectionsAccepted + b.server.connectionsAccepted).toBe(1);
  });

  it('idleTimeout closes an unused connection and the next call reopens it', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { idleTimeout: 100 }), (c) => c.close());
    const work = client.refer(Work);
    const disconnects: string[] = [];
    client.on('disconnect', (_info, reason) => disconnects.push(reason));

    expect(await work.whoami()).toBe('a');
    expect(client.connections()).toHaveLength(1);
    await waitFor(() => client.connections().length === 0 && p.server.connectionCount === 0, 2000, 'the idle connection to close');
    expect(disconnects).toEqual(['idle']);

    expect(await work.whoami()).toBe('a');
    expect(p.server.connectionsAccepted).toBe(2);
    expect(client.connections()).toHaveLength(1);
    expect(client.connections()[0]!.providerState).toBe('ready');
  });

  it('idleTimeout never closes a connection with a call in flight', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    const client = defer(newClient(p.address, { idleTimeout: 100 }), (c) => c.close());
    const work = client.refer(Work);
    const held = work.hold();
    await sleep(350); // several sweeps pass while the call is held
    expect(client.connections()).toHaveLength(1);
    p.impl.openGate();
    expect(await held).toBe('a');
    expect(p.server.connectionsAccepted).toBe(1);
  });
});

describe('idle close races', () => {
  const defer = useCleanup();

  it('a call made just as the idle sweeper closes the connection opens a new one instead of failing', async () => {
    const p = defer(await startWorkProvider('a'), (x) => x.close());
    // Capture the registry's sweep so the test can run it at a chosen moment.
    const spy = vi.spyOn(globalThis, 'setInterval');
    let client;
    let sweep: (() => void) | undefined;
    try {
      client = defer(newClient(p.address, { idleTimeout: 50 }), (c) => c.close());
      sweep = spy.mock.calls.map((c) => c[0]).find((fn): fn is () => void => typeof fn === 'function');
    } finally {
      spy.mockRestore();
    }
    expect(sweep).toBeDefined();
    const work = client.refer(Work, { cluster: 'failfast' });
    expect(await work.whoami()).toBe('a');
    await sleep(80); // idle for longer than idleTimeout

    // The sweep closes the idle connection; a call made in the same tick (before the
    // socket's close event) must not be written to the dying connection.
    sweep!();
    const outcome = await work.whoami().catch((e: unknown) => e);
    expect(String(outcome)).toBe('a');
  });
});

afterAll(() => expectNothingOpen());
