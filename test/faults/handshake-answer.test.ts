// A4, B5 and the direction rules, on the consumer, against a scripted fake
// provider: the handshake answer is read strictly and its heartbeat clamped;
// nothing but the answer may come first; a provider may not send Cancel or a
// Handshake request. Provider-side direction rules over a raw socket.
import { describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/exchange/client-connection.js';
import type { OutgoingCall } from '../../src/exchange/connection-call.js';
import { ConnectionState } from '../../src/exchange/connection-state.js';
import { silentLogger } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { FrameType, HEARTBEAT_FLOOR, MAX_TIMER_MS } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse, responseFrame } from '../helpers/fake-provider.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { recordServerEvents } from '../lifecycle/util.js';

const GOOD = { version: 1, maxFrameSize: 1 << 20, heartbeat: 0, idleTimeout: 0 };

/** A fake provider whose handshake answer is `answer` (a map, or raw bytes), written after `before`. */
async function fakeWith(answer: unknown, before?: Buffer): Promise<FakeProvider> {
  return FakeProvider.start(() => undefined, {
    onHandshake: (frame, socket) => {
      if (before !== undefined) socket.write(before);
      socket.write(handshakeResponse(frame.id, 0, Buffer.isBuffer(answer) ? answer : encodeBody(answer)));
    },
  });
}

/** A bare consumer connection to `address` (no Client around it), so its disconnect reason can be read. */
function connect(address: string): ClientConnection {
  const [host, port] = address.split(':');
  return new ClientConnection({
    host: host!,
    port: Number(port),
    connectTimeout: 2000,
    maxFrameSize: 1 << 20,
    maxQueuedBytes: 1 << 22,
    keepAliveDelay: 1000,
    heartbeat: 100,
    heartbeatMisses: 3,
    logger: silentLogger,
  });
}

/** A two-way call as the reference layer would hand it over (an encoded `test.Echo#echo`). */
function echoCall(value: unknown): OutgoingCall {
  return {
    label: 'test.Echo#echo',
    timeout: 2000,
    deadline: Infinity,
    origin: undefined,
    oneWay: false,
    body: encodeBody(['test.Echo', '', '', 'echo', [value], null, null]),
    moveTo: () => {
      throw new Error('not moved in these tests');
    },
  };
}

/** Runs `fn` and returns the names of the process warnings emitted meanwhile (and for 50 ms after). */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const names: string[] = [];
  const onWarning = (w: Error): void => void names.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('warning', onWarning);
  }
  return names;
}

describe('the handshake answer, read strictly (A4)', () => {
  const defer = useCleanup();

  const clamped: Array<[string, number, number]> = [
    ['heartbeat 2**32 is clamped to MAX_TIMER_MS', 2 ** 32, MAX_TIMER_MS],
    ['heartbeat 2**31 - 1 stays (the largest timer)', MAX_TIMER_MS, MAX_TIMER_MS],
    ['heartbeat 1 is raised to HEARTBEAT_FLOOR', 1, HEARTBEAT_FLOOR],
    ['heartbeat 0 stays 0 (no pings)', 0, 0],
  ];
  for (const [name, heartbeat, expected] of clamped) {
    it(`${name}, without a TimeoutOverflowWarning`, async () => {
      const fake = defer(await fakeWith({ ...GOOD, heartbeat }), (f) => f.close());
      const client = defer(newClient(fake.address, { heartbeat: 15_000 }), (c) => c.close());
      const warnings = await warningsDuring(async () => {
        void track(client.refer(Echo).echo('open'));
        await waitFor(() => client.connections()[0]?.state === 'ready', 1000, 'the handshake');
      });
      expect(client.connections()[0]!.heartbeat).toBe(expected);
      expect(warnings).toEqual([]);
    });
  }

  it('a heartbeat of 1 ms does not make the consumer ping more than once per HEARTBEAT_FLOOR', async () => {
    let pings = 0;
    const fake = defer(
      await FakeProvider.start(() => undefined, {
        onHandshake: (frame, socket) => {
          socket.write(handshakeResponse(frame.id, 0, encodeBody({ ...GOOD, heartbeat: 1 })));
          socket.on('data', (chunk: Buffer) => {
            // Pings are 16-byte frames of type 2 with flags 0xe0; each is answered at once (a live provider).
            for (let at = 0; at + 16 <= chunk.length; at += 16) {
              if (chunk[at + 3] === 0xe0 && chunk[at + 5] === FrameType.Heartbeat) {
                pings++;
                socket.write(encodeFrame(0x20, 0, FrameType.Heartbeat, chunk.readUInt32BE(at + 8)));
              }
            }
          });
        },
      }),
      (f) => f.close(),
    );
    const conn = defer(connect(fake.address), (c) => c.close());
    await waitFor(() => conn.state === ConnectionState.Ready, 1000, 'the handshake');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(conn.state).toBe(ConnectionState.Ready);
    expect(pings).toBeLessThanOrEqual(500 / HEARTBEAT_FLOOR + 1);
    expect(pings).toBeGreaterThanOrEqual(2);
  });

  const refused: Array<[string, unknown]> = [
    ['maxFrameSize 0', { ...GOOD, maxFrameSize: 0 }],
    ['maxFrameSize 1023', { ...GOOD, maxFrameSize: 1023 }],
    ['maxFrameSize 2**32', { ...GOOD, maxFrameSize: 2 ** 32 }],
    ['maxFrameSize missing', { version: 1 }],
    ['version 3 (above the offer)', { ...GOOD, version: 3 }],
    ['version 0', { ...GOOD, version: 0 }],
    ['version missing', { maxFrameSize: 1 << 20 }],
    ['a negative heartbeat', { ...GOOD, heartbeat: -1 }],
    ['a fractional heartbeat', { ...GOOD, heartbeat: 1.5 }],
    ['a heartbeat beyond 2**53', { ...GOOD, heartbeat: 2 ** 60 }],
    ['a string heartbeat', { ...GOOD, heartbeat: '100' }],
    ['a string idleTimeout', { ...GOOD, idleTimeout: 'never' }],
    ['an array', [1, 1 << 20, 0, 0]],
    ['nil', null],
    ['an undecodable body', Buffer.from([0xc1])],
  ];
  for (const [name, answer] of refused) {
    it(`an answer with ${name} is a protocol error; the queued call fails CONNECT_FAILED (retry-safe)`, async () => {
      const fake = defer(await fakeWith(answer), (f) => f.close());
      const conn = defer(connect(fake.address), (c) => c.close());
      const err = await expectCode(conn.call(echoCall('queued')), 'CONNECT_FAILED');
      expect(err.retrySafe).toBe(true);
      expect(conn.state).toBe(ConnectionState.Closed);
      expect(conn.disconnectReason).toBe('protocol-error');
    });
  }

  it('through a Client: a bad answer fails the call CONNECT_FAILED', async () => {
    const fake = defer(await fakeWith({ ...GOOD, version: 3 }), (f) => f.close());
    const client = defer(newClient(fake.address, { reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
    await expectCode(client.refer(Echo).echo('x'), 'CONNECT_FAILED');
  });
});

describe('frames before the handshake answer, and direction rules (B5)', () => {
  const defer = useCleanup();

  it('a response for id 1 sent before the handshake answer does NOT resolve call 1: protocol error', async () => {
    const early = responseFrame(1, 0, encodeBody('forged'));
    const fake = defer(await fakeWith(GOOD, early), (f) => f.close());
    const conn = defer(connect(fake.address), (c) => c.close());
    const call = conn.call(echoCall('real')); // queued before the handshake: it will get id 1
    await expectCode(call, 'CONNECT_FAILED');
    expect(conn.disconnectReason).toBe('protocol-error');
  });

  const early: Array<[string, Buffer]> = [
    ['a ping', encodeFrame(0xe0, 0, FrameType.Heartbeat, 1)],
    ['a drain', encodeFrame(0xa0, 0, FrameType.Drain, 0)],
    ['a callback request', encodeFrame(0xc0, 0, FrameType.Call, 1, encodeBody([1, []]))],
  ];
  for (const [name, frame] of early) {
    it(`${name} before the handshake answer is a protocol error`, async () => {
      const fake = defer(await fakeWith(GOOD, frame), (f) => f.close());
      const conn = defer(connect(fake.address), (c) => c.close());
      await expectCode(conn.call(echoCall('x')), 'CONNECT_FAILED');
      expect(conn.disconnectReason).toBe('protocol-error');
    });
  }

  const fromProvider: Array<[string, Buffer]> = [
    ['a Cancel', encodeFrame(0xa0, 0, FrameType.Cancel, 1)],
    ['a Release', encodeFrame(0xa0, 0, FrameType.Release, 1)],
    ['a Handshake request', encodeFrame(0xe0, 0, FrameType.Handshake, 0, encodeBody({ version: 1, maxFrameSize: 1 << 20 }))],
    ['a second Handshake response', handshakeResponse(0, 0, encodeBody(GOOD))],
  ];
  for (const [name, frame] of fromProvider) {
    it(`${name} arriving at a ready consumer is a protocol error; the call in flight fails`, async () => {
      const fake = defer(
        await FakeProvider.start(({ socket }) => socket.write(frame)), // answers the first call with the bad frame
        (f) => f.close(),
      );
      const conn = defer(connect(fake.address), (c) => c.close());
      await expectCode(conn.call(echoCall('x')), 'CONNECTION_LOST_WRITTEN');
      expect(conn.disconnectReason).toBe('protocol-error');
    });
  }

  const fromConsumer: Array<[string, Buffer]> = [
    ['a Drain', encodeFrame(0xa0, 0, FrameType.Drain, 0)],
    ['a Handshake response', handshakeResponse(0, 0, encodeBody(GOOD))],
    ['a second Handshake request', encodeFrame(0xe0, 0, FrameType.Handshake, 0, encodeBody({ version: 1, maxFrameSize: 1 << 20 }))],
  ];
  for (const [name, frame] of fromConsumer) {
    it(`${name} arriving at a provider is a protocol error`, async () => {
      const srv = defer(await startServer(), (s) => s.close());
      const events = recordServerEvents(srv.server);
      const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
      raw.send(frame);
      expect(await raw.closedWithin(1000)).toBe(true);
      await waitFor(() => events.disconnects.length === 1, 1000, 'the server disconnect event');
      expect(events.disconnects[0]!.reason).toBe('protocol-error');
    });
  }
});
