// A Server listens once (issue #7 C9): a closed server refuses to listen again
// (SERVER_CLOSED), listen() while listening is INVALID_CONFIG, close() is
// idempotent. Before, a closed server listened again, and a second close()
// returned the first (settled) promise and left the new socket open.
import { Server as NetServer } from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Server, silentLogger } from '../../src/index.js';
import { Echo, EchoImpl } from '../helpers/contract.js';
import { expectCode, freePort, newClient, useCleanup } from '../helpers/server.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';

const newServer = (port = 0): Server => new Server({ host: '127.0.0.1', port, logger: silentLogger, closeGracePeriod: 100 }).register(new EchoImpl());

describe('server listen and close', () => {
  const defer = useCleanup();

  it('listen() after close() rejects with SERVER_CLOSED and binds nothing; close() returns the same promise', async () => {
    const server = defer(newServer(), (s) => s.close());
    const { port } = await server.listen();
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    const err = await expectCode(server.listen(), 'SERVER_CLOSED');
    expect(err.retrySafe).toBe(false);
    expect(server.address).toBeUndefined();
    // Nothing listens on the old port any more.
    const client = defer(newClient(`127.0.0.1:${port}`, { cluster: 'failfast', reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
    await expectCode(client.refer(Echo).echo('x'), 'CONNECT_FAILED');
    expect(server.close()).toBe(first);
  });

  it('listen() while listening (or starting to) rejects with INVALID_CONFIG; the first listen stands', async () => {
    const server = defer(newServer(), (s) => s.close());
    const starting = server.listen();
    await expectCode(server.listen(), 'INVALID_CONFIG');
    const { port } = await starting;
    await expectCode(server.listen(), 'INVALID_CONFIG');
    expect(server.address!.port).toBe(port);
    const client = defer(newClient(`127.0.0.1:${port}`), (c) => c.close());
    expect(await client.refer(Echo).echo('still')).toBe('still');
  });

  it('close() before listen() resolves, and listen() then rejects with SERVER_CLOSED', async () => {
    const server = newServer();
    await server.close();
    await expectCode(server.listen(), 'SERVER_CLOSED');
  });

  it('close() while listen() is under way: listen() rejects with SERVER_CLOSED and the port is not left bound', async () => {
    const port = await freePort();
    const server = newServer(port);
    const listening = server.listen();
    await server.close();
    await expectCode(listening, 'SERVER_CLOSED');
    // The port is free: another server can take it.
    const other = defer(newServer(port), (s) => s.close());
    expect((await other.listen()).port).toBe(port);
  });

  it('after a failed listen() (port taken) listen() may be tried again', async () => {
    const holder = newServer();
    const { port } = await holder.listen();
    const server = defer(newServer(port), (s) => s.close());
    await expectCode(server.listen(), 'LISTEN_FAILED');
    await holder.close();
    expect((await server.listen()).port).toBe(port);
  });

  // Issue #12.6: before, listen() rejected with Node's raw EADDRINUSE error and the server logged a line too.
  it('listen() on a port in use: LISTEN_FAILED naming host:port and suggesting port: 0, nothing logged; the server closes cleanly', async () => {
    const holder = defer(newServer(), (s) => s.close());
    const { port } = await holder.listen();
    const logged: string[] = [];
    const logger = { warn: (_fields: object, m: string) => logged.push(m), error: (_fields: object, m: string) => logged.push(m) };
    const server = new Server({ host: '127.0.0.1', port, logger, closeGracePeriod: 100 }).register(new EchoImpl());
    const err = await expectCode(server.listen(), 'LISTEN_FAILED');
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain('port: 0');
    expect(err.retrySafe).toBe(false);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect(server.address).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve)); // anything logged on the error event would be there by now
    expect(logged).toEqual([]);
    // Closing a server that never bound resolves, and it then refuses to listen, as any closed server.
    await server.close();
    await expectCode(server.listen(), 'SERVER_CLOSED');
    expect(logged).toEqual([]);
    // The way out the message gives: port 0.
    const other = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger }).register(new EchoImpl()), (s) => s.close());
    expect((await other.listen()).port).toBeGreaterThan(0);
  });

  it('LISTEN_FAILED also for an address no interface has (EADDRNOTAVAIL), naming it', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to this machine.
    const server = defer(new Server({ host: '192.0.2.1', port: 0, logger: silentLogger }), (s) => s.close());
    const err = await expectCode(server.listen(), 'LISTEN_FAILED');
    expect(err.message).toContain('192.0.2.1:0');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EADDRNOTAVAIL');
  });

  it('backlog is the listen queue handed to listen() (default 511)', async () => {
    const spy = vi.spyOn(NetServer.prototype, 'listen');
    try {
      const server = defer(new Server({ host: '127.0.0.1', port: 0, backlog: 7, logger: silentLogger }), (s) => s.close());
      await server.listen();
      expect(spy).toHaveBeenLastCalledWith(expect.objectContaining({ port: 0, host: '127.0.0.1', backlog: 7 }), expect.any(Function));
      const byDefault = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger }), (s) => s.close());
      await byDefault.listen();
      expect(spy).toHaveBeenLastCalledWith(expect.objectContaining({ backlog: 511 }), expect.any(Function));
    } finally {
      spy.mockRestore();
    }
  });
});

afterAll(() => expectNothingOpen());
