// A call a connection refuses before accepting it (its signal already fired,
// or the connection is draining) gives back what it registered there: the
// callbacks it was encoded with were never sent, so they must not hold a
// maxCallbacks slot (and the process) for the connection's life.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/index.js';
import { ClientConnection } from '../../src/exchange/client-connection.js';
import type { OutgoingCall } from '../../src/exchange/connection-call.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { FakeProvider } from '../helpers/fake-provider.js';
import { useCleanup, waitFor } from '../helpers/server.js';

function connect(address: string): ClientConnection {
  const [host, port] = address.split(':');
  return new ClientConnection({ host: host!, port: Number(port), connectTimeout: 2000, maxFrameSize: 1 << 20, maxQueuedBytes: 1 << 22, keepAliveDelay: 1000, heartbeat: 0, heartbeatMisses: 3, logger: silentLogger });
}

function outgoing(conn: ClientConnection, signal: AbortSignal | undefined): OutgoingCall & { settled: number } {
  const fresh: Function[] = [];
  conn.callbacks.registerAll([() => undefined], fresh);
  const out = {
    label: 'test.Watch#watch', timeout: 1000, origin: undefined, signal, oneWay: false, deadline: Infinity,
    body: encodeBody(['test.Watch', '', '', 'watch', [1], null, null]), fresh, settled: 0,
    onSettle: () => void out.settled++,
    moveTo: () => { throw new Error('not moved'); },
  };
  return out;
}

describe('a call refused by its connection before it is accepted', () => {
  const defer = useCleanup();

  it('an already aborted signal: CANCELLED, slots back once, its fresh callbacks forgotten', async () => {
    const fake = defer(await FakeProvider.start(() => undefined, { version: 2 }), (f) => f.close());
    const conn = defer(connect(fake.address), (c) => c.close());
    const out = outgoing(conn, AbortSignal.abort());
    expect(conn.callbacks.size).toBe(1);
    await expect(conn.call(out)).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(out.settled).toBe(1);
    expect(conn.callbacks.size).toBe(0);
  });

  it('a draining connection: UNAVAILABLE, its fresh callbacks forgotten', async () => {
    const fake = defer(await FakeProvider.start(() => undefined, { version: 2 }), (f) => f.close());
    const conn = defer(connect(fake.address), (c) => c.close());
    await waitFor(() => conn.state === 'ready', 2000, 'the handshake');
    const keep = outgoing(conn, undefined); // one call in flight keeps the draining connection open
    void conn.call(keep).catch(() => undefined);
    conn.retire('removed');
    expect(conn.state).toBe('draining');
    const out = outgoing(conn, undefined);
    await expect(conn.call(out)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(out.settled).toBe(1);
    expect(conn.callbacks.size).toBe(1); // the call in flight's
  });
});
