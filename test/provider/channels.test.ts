// The provider's diagnostics_channel events: call start/end/error with one
// shared call object, and connect/disconnect.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_NAMES } from '../../src/context/channels.js';
import { HeartlineError, type ServerCall } from '../../src/index.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { Echo } from '../helpers/contract.js';

const defer = useCleanup();
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
});
