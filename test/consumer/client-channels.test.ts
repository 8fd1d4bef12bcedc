// diagnostics_channel events of the consumer (CHANNEL_NAMES), and `err.call`
// on every error a call rejects with.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, HeartlineError, withOptions } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { expectCode, freePort, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

type Message = Record<string, unknown>;

/** Subscribes to `names` for the test; returns the messages received, tagged with the channel. */
function record(defer: ReturnType<typeof useCleanup>, ...names: string[]): Array<{ name: string; message: Message }> {
  const seen: Array<{ name: string; message: Message }> = [];
  for (const name of names) {
    const listener = (message: unknown): void => void seen.push({ name, message: message as Message });
    subscribe(name, listener);
    defer(listener, (l) => unsubscribe(name, l));
  }
  return seen;
}

describe('client call channels', () => {
  const defer = useCleanup();

  it('start then end, once per logical call, with the same call object, the result and a duration', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const seen = record(defer, CHANNEL_NAMES.clientCallStart, CHANNEL_NAMES.clientCallEnd, CHANNEL_NAMES.clientCallError);
    let intercepted = 0;
    client.use((call, next) => {
      intercepted++;
      return next(call.with({ attachments: { x: 'y' } }));
    });
    expect(await client.refer(Echo).echo('hi')).toBe('hi');
    expect(seen.map((e) => e.name)).toEqual([CHANNEL_NAMES.clientCallStart, CHANNEL_NAMES.clientCallEnd]);
    const [start, end] = seen;
    expect(end!.message.call).toBe(start!.message.call);
    expect((start!.message.call as { method: string }).method).toBe('echo');
    expect((start!.message.call as { attachments: object }).attachments).toEqual({}); // as made, before interceptors
    expect(end!.message.result).toBe('hi');
    expect(end!.message.duration).toBeGreaterThanOrEqual(0);
    expect(intercepted).toBe(1);
  });

  it('start then error: the error carries err.call; nothing is published without subscribers', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const seen = record(defer, CHANNEL_NAMES.clientCallStart, CHANNEL_NAMES.clientCallError);
    await expectCode(client.refer(Echo).fail('no'), 'HANDLER_ERROR');
    expect(seen.map((e) => e.name)).toEqual([CHANNEL_NAMES.clientCallStart, CHANNEL_NAMES.clientCallError]);
    expect(seen[1]!.message.call).toBe(seen[0]!.message.call);
    expect((seen[1]!.message.error as HeartlineError).call).toBe('test.Echo#fail');
    expect(seen[1]!.message.duration).toBeGreaterThanOrEqual(0);
  });

  it('a subscriber that throws does not break the call', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address), (c) => c.close());
    const listener = (): void => {
      throw new Error('subscriber bug');
    };
    subscribe(CHANNEL_NAMES.clientCallStart, listener);
    defer(listener, (l) => unsubscribe(CHANNEL_NAMES.clientCallStart, l));
    const errors: unknown[] = [];
    const onUncaught = (err: unknown): void => void errors.push(err);
    process.on('uncaughtException', onUncaught);
    defer(onUncaught, (l) => process.off('uncaughtException', l));
    expect(await client.refer(Echo).echo(1)).toBe(1);
    await waitFor(() => errors.length === 1, 1000, 'the subscriber error reported on nextTick');
  });
});

describe('client connection channels', () => {
  const defer = useCleanup();

  it('connect, disconnect and reconnect, with the same payloads as the Client events', async () => {
    const port = await freePort();
    let s = await startServer({ port });
    const client = defer(newClient(s.address, { reconnect: { initialDelay: 20, maxDelay: 50 } }), (c) => c.close());
    const seen = record(defer, CHANNEL_NAMES.clientConnect, CHANNEL_NAMES.clientDisconnect, CHANNEL_NAMES.clientReconnect);
    const events: unknown[] = [];
    client.on('connect', (info) => events.push(info));
    expect(await client.refer(Echo).echo(1)).toBe(1);
    expect(seen.map((e) => e.name)).toEqual([CHANNEL_NAMES.clientConnect]);
    expect(seen[0]!.message.connection).toBe(events[0]);
    expect((seen[0]!.message.connection as { address: string }).address).toBe(s.address);
    await s.close();
    await waitFor(() => seen.some((e) => e.name === CHANNEL_NAMES.clientDisconnect), 2000, 'the disconnect');
    expect(seen.find((e) => e.name === CHANNEL_NAMES.clientDisconnect)!.message.reason).toBeTypeOf('string');
    s = defer(await startServer({ port }), (x) => x.close());
    await waitFor(() => seen.some((e) => e.name === CHANNEL_NAMES.clientReconnect), 3000, 'the reconnect');
    const reconnect = seen.find((e) => e.name === CHANNEL_NAMES.clientReconnect)!.message;
    expect(reconnect).toEqual({ address: s.address, attempts: expect.any(Number), client });
    expect(seen.every((e) => e.message.client === client)).toBe(true);
  });
});

describe('client channels name their client', () => {
  const defer = useCleanup();

  it('two clients in one process: each call event carries the client that made it', async () => {
    const srv = defer(await startServer(), (x) => x.close());
    const seen = record(defer, CHANNEL_NAMES.clientCallEnd, CHANNEL_NAMES.clientCallError);
    const a = defer(newClient(srv.address), (c) => c.close());
    const b = defer(newClient(srv.address), (c) => c.close());
    await a.refer(Echo).echo(1);
    await expectCode(b.refer(Echo).fail('x'), 'HANDLER_ERROR');
    expect(seen.map((e) => [e.name, e.message.client])).toEqual([
      [CHANNEL_NAMES.clientCallEnd, a],
      [CHANNEL_NAMES.clientCallError, b],
    ]);
  });

  it('heartline:client:heartbeat: each pong with its round trip, only while subscribed', async () => {
    const srv = defer(await startServer({ minHeartbeat: 50 }), (x) => x.close());
    const client = defer(newClient(srv.address, { heartbeat: 50 }), (c) => c.close());
    await client.refer(Echo).echo(1);
    const seen = record(defer, CHANNEL_NAMES.clientHeartbeat);
    await waitFor(() => seen.length >= 2, 2000, 'two pongs');
    const [first] = seen;
    const conn = client.connections()[0]!;
    expect(first!.message).toEqual({ client, address: srv.address, connectionId: conn.id, rtt: expect.any(Number) });
    expect(first!.message.rtt as number).toBeGreaterThanOrEqual(0);
  });
});

describe('err.call', () => {
  const defer = useCleanup();

  it('names the call on errors of every origin: local checks, the connection, the provider, the client', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = newClient(s.address);
    const echo = client.refer(Echo);
    expect((await expectCode(echo.fail('x'), 'HANDLER_ERROR')).call).toBe('test.Echo#fail');
    expect((await expectCode(withOptions(echo, { timeout: 20 }).sleep(200), 'TIMEOUT')).call).toBe('test.Echo#sleep');
    expect((await expectCode(echo.symbol(), 'SERIALIZATION_ERROR')).call).toBe('test.Echo#symbol');
    expect((await expectCode(echo.echo(Symbol('no')), 'SERIALIZATION_ERROR')).call).toBe('test.Echo#echo');
    await client.close();
    expect((await expectCode(echo.echo(1), 'CLIENT_CLOSED')).call).toBe('test.Echo#echo');
    const nobody = defer(newClient(`127.0.0.1:${await freePort()}`, { stackTraces: 'off' }), (c) => c.close());
    expect((await expectCode(nobody.refer(Echo).echo(1), 'CONNECT_FAILED')).call).toBe('test.Echo#echo');
  });

  it('names the call on the paths without a handler in the stub: a retry, failsafe, a signal, an interceptor, maxPendingCalls', async () => {
    const s = defer(await startServer(), (x) => x.close());
    const client = defer(newClient(s.address, { stackTraces: 'off' }), (c) => c.close());
    const echo = client.refer(Echo);
    const aborted = AbortSignal.abort();
    expect((await expectCode(withOptions(echo, { signal: aborted }).echo(1), 'CANCELLED')).call).toBe('test.Echo#echo');
    const controller = new AbortController();
    const pending = expectCode(withOptions(echo, { signal: controller.signal }).sleep(500), 'CANCELLED');
    controller.abort();
    expect((await pending).call).toBe('test.Echo#sleep');
    const failsafe = client.refer(Echo, { cluster: 'failsafe' });
    const cancelled = expectCode(withOptions(failsafe, { signal: AbortSignal.timeout(20) }).sleep(500), 'CANCELLED');
    expect((await cancelled).call).toBe('test.Echo#sleep');
    // Two dead providers, one retry: the retry's failure is the call's.
    const dead = defer(newClient(undefined, { stackTraces: 'off', providers: [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`] }), (c) => c.close());
    expect((await expectCode(dead.refer(Echo, { retries: 1 }).echo(1), 'CONNECT_FAILED')).call).toBe('test.Echo#echo');
    const refusing = defer(newClient(s.address, { stackTraces: 'off' }), (c) => c.close());
    refusing.use(() => {
      throw new HeartlineError('PERMISSION_DENIED', 'no');
    });
    expect((await expectCode(refusing.refer(Echo).echo(1), 'PERMISSION_DENIED')).call).toBe('test.Echo#echo');
    const small = defer(newClient(s.address, { stackTraces: 'off', maxPendingCalls: 1 }), (c) => c.close());
    const busy = small.refer(Echo);
    const first = busy.sleep(50);
    expect((await expectCode(busy.echo(1), 'LIMIT_EXCEEDED')).call).toBe('test.Echo#echo');
    await first;
  });
});
