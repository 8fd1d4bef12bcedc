// Connections that never become ready (issue #7 B2, B3): a provider unreachable
// from the start is marked `reconnecting` after its first failed connect and
// retried with backoff while calls go elsewhere; every such connection is
// reported by a `disconnect` event ('connect-failed' or 'refused').
import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError, type BackoffOptions } from '../../src/index.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, freePort, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { recordClientEvents, sleep } from './util.js';

const CONNECT_TIMEOUT = 300;
// jitter 0: attempt n >= 1 waits exactly 200 x 2^n (capped at 400); the first waits up to 200.
const BACKOFF: BackoffOptions = { initialDelay: 200, factor: 2, maxDelay: 400, jitter: 0 };
const WORKERS = 32;
const RUN_MS = 1600;

interface Sample {
  start: number;
  end: number;
  error?: unknown;
}

describe('a provider unreachable from the start', () => {
  const defer = useCleanup();

  it('is reconnecting with backoff after its first failed connect; only calls waiting on that attempt fail', async () => {
    const b = defer(await startServer(), (s) => s.close());
    // A accepts TCP connections and never forwards a byte: the handshake is never answered.
    const a = defer(await TcpProxy.start(b.port), (p) => p.close());
    a.blackhole();
    // The call timeout equals connectTimeout: the calls waiting on A time out in the same ms as its connect.
    const client = defer(
      newClient(undefined, { providers: [a.address, b.address], timeout: CONNECT_TIMEOUT, connectTimeout: CONNECT_TIMEOUT, reconnect: BACKOFF }),
      (c) => c.close(),
    );
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);

    const samples: Sample[] = [];
    const providerStatesOfA = new Set<string>();
    const t0 = performance.now();
    const stopAt = t0 + RUN_MS;
    const worker = async (id: number): Promise<void> => {
      for (let i = 0; performance.now() < stopAt; i++) {
        const start = performance.now();
        try {
          await echo.echo(`${id}:${i}`);
          samples.push({ start, end: performance.now() });
        } catch (error) {
          samples.push({ start, end: performance.now(), error });
        }
        for (const c of client.connections()) if (c.address === a.address) providerStatesOfA.add(c.providerState);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));

    // Retried with backoff (attempts at ~0, 300..500, 1000..1200 ms), never more than one connection at a time:
    // without backoff a connection would open every 300 ms (6 in the run).
    expect(a.accepted).toBeGreaterThanOrEqual(2);
    expect(a.accepted).toBeLessThanOrEqual(3);
    expect(providerStatesOfA.has('connecting')).toBe(true); // the first attempt
    expect(providerStatesOfA.has('reconnecting')).toBe(true); // the later ones

    const failedConnects = events.disconnects.filter((d) => d.info.address === a.address);
    expect(failedConnects.length).toBeGreaterThanOrEqual(1);
    for (const d of failedConnects) expect(d.reason).toBe('connect-failed');
    const firstFailure = failedConnects[0]!;
    expect(firstFailure.at - t0).toBeGreaterThanOrEqual(CONNECT_TIMEOUT - 10);
    // When its first connection is reported gone, A is already reconnecting.
    expect(firstFailure.info.providerState).toBe('reconnecting');
    expect(events.connects.every((c) => c.info.address === b.address)).toBe(true);

    // Only calls made before A's first attempt failed can have failed (those waiting on it).
    const failures = samples.filter((s) => s.error !== undefined);
    expect(failures.length).toBeLessThanOrEqual(WORKERS);
    for (const f of failures) {
      expect(f.error).toBeInstanceOf(HeartlineError);
      expect(['TIMEOUT', 'CONNECT_FAILED']).toContain((f.error as HeartlineError).code);
      expect(f.start).toBeLessThanOrEqual(firstFailure.at);
    }
    const later = samples.filter((s) => s.start > firstFailure.at);
    expect(later.length).toBeGreaterThan(100);
    expect(later.every((s) => s.error === undefined)).toBe(true);
  });
});

describe('disconnect events of connections that never became ready', () => {
  const defer = useCleanup();

  it("a port nobody listens on: 'connect-failed', describing that connection", async () => {
    const port = await freePort();
    const client = defer(newClient(`127.0.0.1:${port}`, { reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(client);
    await expectCode(client.refer(Echo).echo('x'), 'CONNECT_FAILED');
    await waitFor(() => events.disconnects.length === 1, 1000, 'the disconnect event');
    expect(events.disconnects[0]!.reason).toBe('connect-failed');
    expect(events.disconnects[0]!.info).toMatchObject({ address: `127.0.0.1:${port}`, state: 'closed', providerState: 'reconnecting', inFlight: 0 });
    expect(events.connects).toEqual([]);
    await sleep(50);
    expect(events.disconnects).toHaveLength(1);
  });

  it("a handshake that is never answered: 'connect-failed' after connectTimeout", async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const proxy = defer(await TcpProxy.start(srv.port), (p) => p.close());
    proxy.blackhole();
    const client = defer(newClient(proxy.address, { timeout: 5000, connectTimeout: 200, reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(client);
    const started = performance.now();
    await expectCode(client.refer(Echo).echo('x'), 'CONNECT_FAILED');
    await waitFor(() => events.disconnects.length === 1, 1000, 'the disconnect event');
    expect(events.disconnects[0]!.at - started).toBeGreaterThanOrEqual(190);
    expect(events.disconnects[0]!.reason).toBe('connect-failed');
    expect(events.disconnects[0]!.info.address).toBe(proxy.address);
    expect(events.connects).toEqual([]);
  });

  it("a provider over its accepts limit: 'refused' for the refused connection", async () => {
    const srv = defer(await startServer({ accepts: 1 }), (s) => s.close());
    const first = defer(newClient(srv.address), (c) => c.close());
    await first.refer(Echo).echo('in');
    const second = defer(newClient(srv.address, { reconnect: { initialDelay: 5000 } }), (c) => c.close());
    const events = recordClientEvents(second);
    await expectCode(second.refer(Echo).echo('over'), 'LIMIT_EXCEEDED');
    await waitFor(() => events.disconnects.length === 1, 1000, 'the disconnect event');
    expect(events.disconnects[0]!.reason).toBe('refused');
    expect(events.disconnects[0]!.info).toMatchObject({ address: srv.address, state: 'closed' });
    expect(events.connects).toEqual([]);
  });

  it("connections: 2 against accepts: 1: the refused extra connection is reported 'refused', the other stays", async () => {
    const srv = defer(await startServer({ accepts: 1 }), (s) => s.close());
    const client = defer(newClient(srv.address, { connections: 2, timeout: 5000 }), (c) => c.close());
    const events = recordClientEvents(client);
    const echo = client.refer(Echo);
    // Two calls at once: the second opens the extra connection, which the provider refuses.
    expect(await Promise.all([echo.sleep(50), echo.echo('b')])).toEqual([50, 'b']);
    await waitFor(() => events.disconnects.length === 1, 1000, 'the disconnect event');
    expect(events.disconnects[0]!.reason).toBe('refused');
    expect(events.connects).toHaveLength(1);
    expect(events.disconnects[0]!.info.id).not.toBe(events.connects[0]!.info.id);
    expect(client.connections().map((c) => c.state)).toEqual(['ready']);
  });
});

afterAll(() => expectNothingOpen());
