// Transport.ref()/unref() (issue #12.4): the state asked for holds on the socket that
// connects, even when Node swapped its handle while trying a host's addresses one
// by one (autoSelectFamily: a new handle is ref'd).
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/index.js';
import { Transport } from '../../src/transport/transport.js';

const hasRef = (socket: Socket): boolean => (socket as unknown as { _handle: { hasRef(): boolean } })._handle.hasRef();

describe('Transport.ref() / unref()', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    server = undefined;
  });

  async function transportTo(lookupOrder: string[]): Promise<{ transport: Transport; socket: Socket; connected: Promise<void> }> {
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    // 127.0.0.2 is loopback too, but nothing listens there on this port: the first attempt is refused.
    const lookup = (_host: string, _options: unknown, callback: (err: null, addresses: Array<{ address: string; family: number }>) => void): void =>
      callback(null, lookupOrder.map((address) => ({ address, family: 4 })));
    const socket = connect({ host: 'multi.test', port, lookup: lookup as never, autoSelectFamily: true });
    sockets.push(socket);
    const transport = new Transport(socket, { maxFrameSize: 1 << 20, maxQueuedBytes: 1 << 20, keepAliveDelay: 60_000, logger: silentLogger }, {
      onFrame() {},
      onOversize() {},
      onClose() {},
    });
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return { transport, socket, connected };
  }

  it('unref() before connect holds on the handle that connected, after a refused first address', async () => {
    const { transport, socket, connected } = await transportTo(['127.0.0.2', '127.0.0.1']);
    const first = (socket as unknown as { _handle: unknown })._handle;
    transport.unref();
    await connected;
    expect((socket as unknown as { _handle: unknown })._handle).not.toBe(first); // Node did swap the handle
    expect(hasRef(socket)).toBe(false);
    transport.ref();
    expect(hasRef(socket)).toBe(true);
    transport.ref(); // idempotent
    expect(hasRef(socket)).toBe(true);
    transport.unref();
    transport.unref();
    expect(hasRef(socket)).toBe(false);
    transport.destroy();
    transport.ref(); // after destroy: nothing to do, no throw
  });

  it('a socket left ref\'d stays ref\'d', async () => {
    const { socket, connected } = await transportTo(['127.0.0.2', '127.0.0.1']);
    await connected;
    expect(hasRef(socket)).toBe(true);
  });
});
