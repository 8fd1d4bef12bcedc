// Credentials that expire while their connection lives (issue #10): the
// provider drains that connection at `expiresAt` (a Drain with reconnect:
// true), the consumer starts no new call on it and opens a fresh connection,
// asking its credentials function again, while the call in flight finishes on
// the old one. Real sockets, a short expiry.
import { describe, expect, it } from 'vitest';
import type { DisconnectReason } from '../../src/index.js';
import { FrameType } from '../../src/protocol/constants.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../../src/protocol/constants.js';
import { Echo } from '../helpers/contract.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { errorMap, FakeProvider, responseFrame } from '../helpers/fake-provider.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();

describe('credentials expiry', () => {
  it('drains the connection at expiresAt: the call in flight completes, new calls go on a new connection with fresh credentials', async () => {
    const TTL = 250;
    const seen: string[] = [];
    const s = defer(
      await startServer({
        closeGracePeriod: 3000,
        authenticate: (hello) => {
          seen.push(hello.credentials!);
          return { principal: hello.credentials, expiresAt: Date.now() + TTL };
        },
      }),
      (x) => x.close(),
    );
    const reasons: DisconnectReason[] = [];
    s.server.on('disconnect', (_info, reason) => reasons.push(reason));
    let n = 0;
    const c = defer(newClient(s.address, { credentials: async () => `token-${++n}`, cluster: 'failfast' }), (x) => x.close());
    const clientReasons: DisconnectReason[] = [];
    c.on('disconnect', (_info, reason) => clientReasons.push(reason));
    const echo = c.refer(Echo);
    expect(await echo.echo('first')).toBe('first');
    // In flight across the expiry: it must complete on the old connection.
    const long = track(echo.sleep(TTL + 200));
    await waitFor(() => c.connections().some((x) => x.state === 'draining'), 2000, 'the consumer to read the drain');
    const firstId = c.connections().find((x) => x.state === 'draining')!.id;
    // A new call now: not refused, not on the draining connection.
    expect(await echo.echo('after')).toBe('after');
    expect(seen).toEqual(['token-1', 'token-2']);
    expect(c.connections().filter((x) => x.state === 'ready').map((x) => x.id)).not.toContain(firstId);
    await waitFor(() => long.settled, 2000, 'the call in flight');
    expect(long.value).toBe(TTL + 200);
    // Once its call settled, the consumer closed the drained connection; the provider saw it go.
    await waitFor(() => reasons.length >= 1 && clientReasons.length >= 1, 2000, 'the old connection to close on both ends');
    expect(reasons[0]).toBe('credentials-expired');
    expect(clientReasons[0]).toBe('credentials-expired');
  });

  it('an idle connection whose credentials expired is replaced on the next call; the endpoint never refuses calls meanwhile', async () => {
    const s = defer(await startServer({ authenticate: () => ({ principal: 1, expiresAt: Date.now() + 100 }) }), (x) => x.close());
    let asked = 0;
    const c = defer(newClient(s.address, { credentials: () => `t${++asked}`, cluster: 'failfast' }), (x) => x.close());
    const echo = c.refer(Echo);
    await echo.echo(1);
    await waitFor(() => c.connections().length === 0, 2000, 'the expired connection to close');
    expect(await echo.echo(2)).toBe(2);
    expect(asked).toBe(2);
    // Every call during the churn succeeds.
    for (let i = 0; i < 10; i++) expect(await echo.echo(i)).toBe(i);
  });

  it('a consumer that keeps a drained connection open past the grace period is closed by the provider; its calls are aborted', async () => {
    const s = defer(await startServer({ closeGracePeriod: 150, authenticate: () => ({ principal: 1, expiresAt: Date.now() + 100 }) }), (x) => x.close());
    const reasons: DisconnectReason[] = [];
    s.server.on('disconnect', (_info, reason) => reasons.push(reason));
    // A hand-made consumer: it ignores the drain and keeps a call running.
    const raw = defer(await RawConnection.open(s.port, { handshake: false }), (r) => r.destroy());
    raw.send(encodeFrame(frameFlags(FrameType.Handshake, true, true), 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, heartbeat: 0, credentials: 'x' })));
    expect((await raw.nextFrame())!.status).toBe(0);
    raw.send(encodeFrame(frameFlags(FrameType.Call, true, true), 0, FrameType.Call, 1, encodeBody(['test.Echo', '1.0.0', '', 'sleep', [5000], {}, null])));
    const drain = await raw.nextFrame(1000);
    expect(drain!.type).toBe(FrameType.Drain);
    expect(decodeBody(drain!.body)).toEqual({ reason: 'credentials expired', deadline: 150, reconnect: true });
    expect(await raw.closedWithin(1000)).toBe(true);
    await waitFor(() => reasons.length === 1);
    expect(reasons).toEqual(['credentials-expired']);
    expect(s.echo.sleepsStarted).toBe(1);
  });

  it('an expiresAt beyond what a Node timer can wait is waited for in steps (no TimeoutOverflowWarning, no early drain)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    defer(onWarning, (fn) => process.off('warning', fn));
    const s = defer(await startServer({ authenticate: () => ({ principal: 1, expiresAt: Date.now() + 40 * 24 * 3600 * 1000 }) }), (x) => x.close());
    const c = defer(newClient(s.address), (x) => x.close());
    await c.refer(Echo).echo(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(c.connections()[0]!.state).toBe('ready');
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });

  it('a call that crossed the expiry drain (refused UNAVAILABLE "draining": nothing ran) is sent again on a fresh connection, once, not failed', async () => {
    // Scripted: the first connection drains for its credentials as the call arrives, and refuses the call as a draining provider does.
    const served: number[] = [];
    const drain = encodeFrame(frameFlags(FrameType.Drain, true, false), 0, FrameType.Drain, 0, encodeBody({ reason: 'credentials expired', deadline: 1000, reconnect: true }));
    const sockets = new Set<unknown>();
    const fake = defer(
      await FakeProvider.start(({ frame, request, socket }) => {
        const first = !sockets.has(socket) && sockets.size === 0;
        sockets.add(socket);
        if (first || (request![4] as unknown[])[0] === 'always refused') {
          socket.write(Buffer.concat([drain, responseFrame(frame.id, ERROR_CODES.UNAVAILABLE.status, errorMap('UNAVAILABLE', 'provider is draining'))]));
          return;
        }
        served.push(frame.id);
        socket.write(responseFrame(frame.id, 0, encodeBody((request![4] as unknown[])[0])));
      }),
      (f) => f.close(),
    );
    let asked = 0;
    const c = defer(newClient(fake.address, { credentials: () => `t${++asked}`, cluster: 'failfast' }), (x) => x.close());
    const echo = c.refer(Echo);
    expect(await echo.echo('crossed')).toBe('crossed');
    expect(served).toHaveLength(1);
    expect(asked).toBe(2);
    expect(sockets.size).toBe(2);
    // Sent again once only: a call refused on its second connection too fails (no loop).
    const err = await echo.echo('always refused').then(
      () => undefined,
      (e: { code: string }) => e,
    );
    expect(err?.code).toBe('UNAVAILABLE');
  });

  it('a provider that shuts down while a connection drains for its credentials still tells that consumer: its calls go elsewhere (UNAVAILABLE), no connect is tried', async () => {
    const s = await startServer({ closeGracePeriod: 1000, authenticate: () => ({ principal: 1, expiresAt: Date.now() + 100 }) });
    const reasons: DisconnectReason[] = [];
    s.server.on('disconnect', (_info, reason) => reasons.push(reason));
    const c = defer(newClient(s.address, { credentials: 't', cluster: 'failfast' }), (x) => x.close());
    const echo = c.refer(Echo);
    const long = track(echo.sleep(300)); // keeps the drained connection open
    await waitFor(() => c.connections().some((x) => x.state === 'draining'), 2000, 'the expiry drain');
    const closing = s.close();
    await waitFor(() => c.connections().some((x) => x.providerState === 'draining'), 2000, 'the consumer to hear the provider drain');
    const err = await echo.echo('after').then(
      () => undefined,
      (e: { code: string }) => e,
    );
    expect(err?.code).toBe('UNAVAILABLE');
    await waitFor(() => long.settled, 2000);
    expect(long.value).toBe(300);
    await closing;
  });
});
