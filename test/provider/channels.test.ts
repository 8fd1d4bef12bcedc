// The provider's diagnostics_channel events: call start/end/error with one
// shared call object, and connect/disconnect.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_NAMES } from '../../src/context/channels.js';
import { HeartlineError, Provider, Service, type ServerCall } from '../../src/index.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { Echo, EchoImpl } from '../helpers/contract.js';

const defer = useCleanup();

@Service('test.Ticker', { methods: { tick: { callbacks: [0] } } })
abstract class Ticker {
  abstract tick(listener: (n: number) => unknown, times: number): Promise<number>;
}

@Provider(Ticker)
class TickerImpl implements Ticker {
  async tick(listener: (n: number) => unknown, times: number): Promise<number> {
    let ok = 0;
    for (let i = 0; i < times; i++) {
      try {
        await listener(i);
        ok++;
      } catch {
        // counted by the channel
      }
    }
    return ok;
  }
}
const events: Array<{ name: string; message: Record<string, unknown> }> = [];
const names = [CHANNEL_NAMES.serverCallStart, CHANNEL_NAMES.serverCallEnd, CHANNEL_NAMES.serverCallError, CHANNEL_NAMES.serverConnect, CHANNEL_NAMES.serverDisconnect];
const listeners = new Map<string, (message: unknown) => void>();

function listen(): void {
  events.length = 0;
  for (const name of names) {
    const fn = (message: unknown): void => void events.push({ name, message: message as Record<string, unknown> });
    listeners.set(name, fn);
    subscribe(name, fn);
  }
}

afterEach(() => {
  for (const [name, fn] of listeners) unsubscribe(name, fn);
  listeners.clear();
});

const ofCalls = () => events.filter((e) => e.name.includes(':call:'));

describe('server channels', () => {
  it('a call that succeeds: start then end, with the same call object, the result and a duration', async () => {
    listen();
    const { address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    expect(await client.refer(Echo).echo('hi')).toBe('hi');
    await waitFor(() => ofCalls().length === 2);
    const [start, end] = ofCalls();
    expect(start!.name).toBe('heartline:server:call:start');
    expect(end!.name).toBe('heartline:server:call:end');
    const call = start!.message.call as ServerCall;
    expect(call).toMatchObject({ service: 'test.Echo', method: 'echo', version: '1.0.0', oneWay: false });
    expect(end!.message.call).toBe(call);
    expect(end!.message.result).toBe('hi');
    expect(end!.message.duration).toBeGreaterThanOrEqual(0);
  });

  it('every message names its server', async () => {
    listen();
    const srv = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    await client.refer(Echo).echo('hi');
    await client.close();
    await waitFor(() => events.some((e) => e.name === CHANNEL_NAMES.serverDisconnect));
    expect(events.map((e) => e.name)).toEqual([CHANNEL_NAMES.serverConnect, CHANNEL_NAMES.serverCallStart, CHANNEL_NAMES.serverCallEnd, CHANNEL_NAMES.serverDisconnect]);
    expect(events.every((e) => e.message.server === srv.server)).toBe(true);
  });

  it('a handler that fails, and a call to a missing method: start then error, with the error', async () => {
    listen();
    const { address, port } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address), (c) => c.close());
    await expectCode(client.refer(Echo).fail('nope'), 'HANDLER_ERROR');
    await waitFor(() => ofCalls().length === 2);
    expect(ofCalls().map((e) => e.name)).toEqual(['heartline:server:call:start', 'heartline:server:call:error']);
    expect((ofCalls()[1]!.message.error as Error).message).toBe('nope');
    expect(ofCalls()[1]!.message.call).toBe(ofCalls()[0]!.message.call);
    events.length = 0;
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    await raw.call(1, ['test.Echo', '1.0.0', '', 'nothing', [], null]);
    await waitFor(() => ofCalls().length === 2);
    const error = ofCalls()[1]!.message.error as HeartlineError;
    expect(error.code).toBe('METHOD_NOT_FOUND');
    expect((ofCalls()[1]!.message.call as ServerCall).method).toBe('nothing');
  });

  it('connect and disconnect carry the connection info, and the reason', async () => {
    listen();
    const { port } = defer(await startServer(), (s) => s.close());
    const raw = await RawConnection.open(port);
    await waitFor(() => events.some((e) => e.name === CHANNEL_NAMES.serverConnect));
    const connect = events.find((e) => e.name === CHANNEL_NAMES.serverConnect)!;
    expect(connect.message.connection).toMatchObject({ peer: `${raw.socket.localAddress}:${raw.socket.localPort}`, state: 'ready' });
    raw.destroy();
    await waitFor(() => events.some((e) => e.name === CHANNEL_NAMES.serverDisconnect));
    const disconnect = events.find((e) => e.name === CHANNEL_NAMES.serverDisconnect)!;
    expect((disconnect.message.connection as { id: number }).id).toBe((connect.message.connection as { id: number }).id);
    expect(disconnect.message.reason).toBe('closed-by-peer');
  });

  it('heartline:server:refuse: accepts, maxConcurrentCalls, executes', async () => {
    const refusals: Array<Record<string, unknown>> = [];
    const fn = (m: unknown): void => void refusals.push(m as Record<string, unknown>);
    subscribe(CHANNEL_NAMES.serverRefuse, fn);
    defer(fn, (f) => unsubscribe(CHANNEL_NAMES.serverRefuse, f));
    const srv = defer(await startServer({ accepts: 1, maxConcurrentCalls: 1, maxCallbacks: 1 }), (s) => s.close());
    const client = defer(newClient(srv.address), (c) => c.close());
    const echo = client.refer(Echo, { cluster: 'failfast' });
    await echo.echo(1);
    // random() = 1: its first reconnect waits the whole initialDelay (it is random in [0, initialDelay]), not inside this test.
    const other = defer(newClient(srv.address, { reconnect: { initialDelay: 5000 }, random: () => 1 }), (c) => c.close());
    await expectCode(other.refer(Echo).echo(1), 'LIMIT_EXCEEDED');
    expect(refusals).toEqual([{ server: srv.server, limit: 'accepts', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), call: undefined }]);
    const slow = echo.sleep(200);
    await waitFor(() => srv.echo.sleepsStarted === 1, 1000, 'the call to run');
    await expectCode(echo.echo(2), 'LIMIT_EXCEEDED');
    await slow;
    expect(refusals.map((r) => r.limit)).toEqual(['accepts', 'maxConcurrentCalls']);

    const capped = defer(await startServer({ register: false }), (s) => s.close());
    const impl = new EchoImpl();
    capped.server.register(Echo, impl, { methods: { sleep: { executes: 1 } } });
    const c2 = defer(newClient(capped.address), (c) => c.close());
    const e2 = c2.refer(Echo, { cluster: 'failfast' });
    const running = e2.sleep(100);
    await waitFor(() => impl.sleepsStarted === 1, 1000, 'the call to run');
    await expectCode(e2.sleep(1), 'LIMIT_EXCEEDED');
    await running;
    const last = refusals[2]!;
    expect(last).toMatchObject({ server: capped.server, limit: 'executes' });
    expect((last.call as ServerCall).method).toBe('sleep');
  });

  it('heartline:server:push: each push to a consumer callback, with its outcome', async () => {
    const pushes: Array<Record<string, unknown>> = [];
    const fn = (m: unknown): void => void pushes.push(m as Record<string, unknown>);
    subscribe(CHANNEL_NAMES.serverPush, fn);
    defer(fn, (f) => unsubscribe(CHANNEL_NAMES.serverPush, f));
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    srv.server.register(new TickerImpl());
    const client = defer(newClient(srv.address), (c) => c.close());
    const ok = await client.refer(Ticker).tick((n) => {
      if (n === 1) throw new Error('not this one');
    }, 3);
    expect(ok).toBe(2);
    expect(pushes.map((p) => (p.error as HeartlineError | undefined)?.code)).toEqual([undefined, 'HANDLER_ERROR', undefined]);
    expect(pushes[0]).toMatchObject({ server: srv.server, connectionId: srv.server.connections()[0]!.id, duration: expect.any(Number) });
  });
});
