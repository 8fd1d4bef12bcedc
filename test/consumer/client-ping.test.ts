// client.ping(address): one heartbeat ping, its round-trip time; over real
// sockets on 127.0.0.1 port 0.
import { describe, expect, it } from 'vitest';
import { MAX_PING_WAITERS } from '../../src/exchange/client-connection.js';
import { Calc } from '../helpers/contract.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { FakeProvider, handshakeResponse } from '../helpers/fake-provider.js';
import { expectCode, freePort, newClient, startServer, useCleanup } from '../helpers/server.js';
import { trackResources, settle } from '../helpers/leaks.js';

describe('client.ping', () => {
  const defer = useCleanup();

  it('opens a connection, waits for the handshake, then reuses that connection', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    // Two pings before any connection: one connection, one ping after the handshake for both.
    const [a, b] = await Promise.all([client.ping(s.address), client.ping(s.address)]);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(1000);
    expect(b).toBe(a);
    const [first] = client.connections();
    expect(client.connections()).toHaveLength(1);
    const rtt = await client.ping(s.address);
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(client.connections().map((c) => c.id)).toEqual([first!.id]);
    expect(client.connections()[0]!.rtt).toBe(rtt);
    // A reference to the same provider shares that connection.
    expect(await client.refer(Calc, { providers: [s.address] }).add(1, 2)).toBe(3);
    expect(client.connections().map((c) => c.id)).toEqual([first!.id]);
  });

  it('keeps under the provider limit on pings: LIMIT_EXCEEDED here, never a connection cut there', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    await client.ping(s.address);
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(await client.ping(s.address).then(() => 'ok', (err: { code: string }) => err.code));
    }
    expect(outcomes.slice(0, 7)).toEqual(Array(7).fill('ok'));
    expect(outcomes).toContain('LIMIT_EXCEEDED');
    expect(new Set(outcomes)).toEqual(new Set(['ok', 'LIMIT_EXCEEDED']));
    // The provider did not close the connection for too many pings.
    expect(await client.refer(Calc).add(2, 2)).toBe(4);
    expect(client.connections()).toHaveLength(1);
  });

  it('a provider that never answers pings: TIMEOUT after `timeout` ms, and the connection stays', async () => {
    const fake = defer(await FakeProvider.start(() => undefined), (f) => f.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const t0 = performance.now();
    const err = await expectCode(client.ping(fake.address, { timeout: 150 }), 'TIMEOUT');
    expect(err.message).toContain(fake.address);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(client.connections()).toHaveLength(1);
  });

  it('after pings and client.close(), nothing is left open: no socket, no timer', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const tracker = trackResources();
    try {
      const client = newClient(undefined);
      await client.ping(s.address, { timeout: 1000 });
      await client.ping(s.address, { timeout: 1000 });
      await client.close();
      await settle();
      expect(client.connections()).toEqual([]);
      expect(tracker.alive()).toEqual([]);
    } finally {
      tracker.stop();
    }
  });

  it('nobody listening: CONNECT_FAILED, and nothing is left open or reconnecting', async () => {
    const port = await freePort();
    const tracker = trackResources();
    try {
      const client = newClient(undefined);
      const err = await expectCode(client.ping(`127.0.0.1:${port}`), 'CONNECT_FAILED');
      expect(err.message).toMatch(/ECONNREFUSED/);
      expect(client.connections()).toEqual([]);
      await client.close();
      await settle();
      expect(tracker.alive()).toEqual([]);
    } finally {
      tracker.stop();
    }
  });

  it('the connection closes while a ping waits: it fails with the connection error', async () => {
    const fake = defer(await FakeProvider.start(() => undefined), (f) => f.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const waiting = client.ping(fake.address, { timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await fake.close();
    await expectCode(waiting, 'CONNECTION_LOST_WRITTEN');
  });

  it('client.close() fails a waiting ping with CLIENT_CLOSED; a closed client refuses at once', async () => {
    const fake = defer(await FakeProvider.start(() => undefined), (f) => f.close());
    const client = newClient(undefined);
    const waiting = client.ping(fake.address, { timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.close();
    await expectCode(waiting, 'CLIENT_CLOSED');
    await expectCode(client.ping(fake.address), 'CLIENT_CLOSED');
  });

  it('pings waiting for a handshake that never comes are bounded (MAX_PING_WAITERS), and all settle at close', async () => {
    const fake = defer(await FakeProvider.start(() => undefined, { onHandshake: () => undefined }), (f) => f.close());
    const client = newClient(undefined, { connectTimeout: 60_000 });
    const outcomes = Array.from({ length: MAX_PING_WAITERS + 20 }, () => client.ping(fake.address, { timeout: 0 }).then(() => 'ok', (err: { code: string }) => err.code));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.close();
    const codes = await Promise.all(outcomes);
    expect(codes.filter((c) => c === 'CLIENT_CLOSED')).toHaveLength(MAX_PING_WAITERS);
    expect(codes.filter((c) => c === 'LIMIT_EXCEEDED')).toHaveLength(20);
  });

  it('pongs with ids no ping of ours carries are ignored: the ping times out (settled once), the connection stays and still pings', async () => {
    let wrong = true;
    const liar = defer(await FakeProvider.start(() => undefined, { answerPings: true, pongId: (id) => (wrong ? id + 1000 : id) }), (f) => f.close());
    const client = defer(newClient(undefined), (c) => c.close());
    let settled = 0;
    const err = await expectCode(
      client.ping(liar.address, { timeout: 150 }).finally(() => settled++),
      'TIMEOUT',
    );
    expect(err.message).toContain(liar.address);
    wrong = false;
    expect(await client.ping(liar.address, { timeout: 1000 })).toBeGreaterThanOrEqual(0);
    expect(settled).toBe(1);
    expect(client.connections()).toHaveLength(1);
  });

  it('a ping the writer cannot take (its bound on queued bytes is reached): LIMIT_EXCEEDED at once, not a wait for a pong to a ping never sent', async () => {
    // The provider answers the handshake, then stops reading: what the consumer writes piles up.
    const stalled = defer(
      await FakeProvider.start(() => undefined, {
        maxFrameSize: 64 * 1024 * 1024,
        onHandshake: (frame, socket) => {
          socket.write(handshakeResponse(frame.id, 0, encodeBody({ version: 1, maxFrameSize: 64 * 1024 * 1024, heartbeat: 0, idleTimeout: 0 })));
          socket.pause();
        },
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(stalled.address, { maxQueuedBytes: 64 * 1024, maxFrameSize: 64 * 1024 * 1024 }), (c) => c.close());
    await client.ping(stalled.address, { timeout: 1000 }).catch(() => undefined); // connected (the pong never comes)
    // One frame always goes into an empty pipe: far more than the socket buffers hold.
    void client.refer(Calc, { methods: { add: { timeout: 0 } } }).add('x'.repeat(32 * 1024 * 1024) as never, 1).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const outcome = await Promise.race([
      client.ping(stalled.address, { timeout: 0 }).then(
        () => 'pong',
        (err: { code: string }) => err.code,
      ),
      new Promise((r) => setTimeout(() => r('still waiting'), 1000)),
    ]);
    expect(outcome).toBe('LIMIT_EXCEEDED');
  });

  it('a bad address or timeout is INVALID_CONFIG', async () => {
    const client = defer(newClient(undefined), (c) => c.close());
    await expectCode(client.ping('nowhere'), 'INVALID_CONFIG');
    await expectCode(client.ping('127.0.0.1:1', { timeout: -1 }), 'INVALID_CONFIG');
    await expectCode(client.ping('127.0.0.1:1', { timeout: Number.NaN }), 'INVALID_CONFIG');
  });
});
