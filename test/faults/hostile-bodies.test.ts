// Bodies that are malformed or valid-but-refused MessagePack, over real sockets,
// in every direction (the codec's scan, protocol.md 4 and 8; issue #7 A1/D1/D2/D15).
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, HeartlineError, Provider, Service, type Callback, type Client } from '../../src/index.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, FLAGS } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { errorMap, FakeProvider, handshakeResponse, responseFrame } from '../helpers/fake-provider.js';
import { dagBomb, nestedArrays, requestWithRawArg } from '../helpers/msgpack-bombs.js';
import { callFrame, RawConnection, statusCode } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';

const ECHO = (value: unknown): unknown[] => ['test.Echo', '1.0.0', '', 'echo', [value], null];
const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const PROTO_KEY = hex(`81a9${Buffer.from('__proto__').toString('hex')}c3`); // {"__proto__": true}

describe('hostile bodies from a consumer', () => {
  const defer = useCleanup();

  async function setup() {
    const provider = defer(await startServer(), (s) => s.close());
    const raw = defer(await RawConnection.open(provider.port), (r) => r.destroy());
    return { provider, raw };
  }

  /** Sends `body` as a two-way call `id`, expects BAD_REQUEST for it, then a good call on the same connection. */
  async function expectBadRequestAndKept(raw: RawConnection, id: number, body: Buffer): Promise<void> {
    raw.send(callFrame(id, body));
    const answer = await raw.nextFrame(1000);
    expect(answer?.id).toBe(id);
    expect(statusCode(answer!)).toBe('BAD_REQUEST');
    expect((decodeBody(answer!.body) as { code: string }).code).toBe('BAD_REQUEST');
    const { frame, body: value } = await raw.call(id + 1000, ECHO('still here'));
    expect(frame.id).toBe(id + 1000);
    expect(value).toBe('still here');
    expect(raw.isClosed).toBe(false);
  }

  it('a DAG bomb (msgpackr references, depth 20 and 40) as a call: BAD_REQUEST at once, no handler, the connection stays', async () => {
    const { provider, raw } = await setup();
    const started = performance.now();
    await expectBadRequestAndKept(raw, 1, requestWithRawArg('test.Echo', 'echo', dagBomb(20)));
    await expectBadRequestAndKept(raw, 2, requestWithRawArg('test.Echo', 'echo', dagBomb(40)));
    await expectBadRequestAndKept(raw, 3, dagBomb(40)); // the whole body
    expect(performance.now() - started).toBeLessThan(1000);
    expect(provider.echo.received).toEqual([['still here'], ['still here'], ['still here']]);
  });

  it("msgpackr's error extension (0x65) and an unknown extension type: BAD_REQUEST, the connection stays", async () => {
    const { provider, raw } = await setup();
    await expectBadRequestAndKept(raw, 1, requestWithRawArg('test.Echo', 'echo', hex('d4650093a54572726f72a178c0')));
    await expectBadRequestAndKept(raw, 2, requestWithRawArg('test.Echo', 'echo', hex('d61000000000')));
    expect(provider.echo.received).toHaveLength(2); // only the two good calls
  });

  it('a zero-length call body is nil: BAD_REQUEST, the connection stays', async () => {
    const { raw } = await setup();
    await expectBadRequestAndKept(raw, 1, Buffer.alloc(0));
  });

  it('a "__proto__" map key and a non-str map key ({1: x}): BAD_REQUEST, the connection stays', async () => {
    const { provider, raw } = await setup();
    await expectBadRequestAndKept(raw, 1, requestWithRawArg('test.Echo', 'echo', PROTO_KEY));
    await expectBadRequestAndKept(raw, 2, requestWithRawArg('test.Echo', 'echo', hex('8101a178')));
    expect(provider.echo.received).toHaveLength(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('nesting: a body 100 deep is served, 101 deep is BAD_REQUEST', async () => {
    const { raw } = await setup();
    // The request array and the args array are two levels: the argument adds 98 or 99.
    raw.send(callFrame(1, requestWithRawArg('test.Echo', 'echo', nestedArrays(98))));
    const ok = await raw.nextFrame();
    expect(statusCode(ok!)).toBeUndefined();
    let depth = 0;
    for (let v = decodeBody(ok!.body); Array.isArray(v); v = v[0]) depth++;
    expect(depth).toBe(98);
    await expectBadRequestAndKept(raw, 2, requestWithRawArg('test.Echo', 'echo', nestedArrays(99)));
  });

  it('a refused one-way call is dropped without an answer; the connection stays', async () => {
    const { provider, raw } = await setup();
    raw.send(callFrame(1, requestWithRawArg('test.Echo', 'notify', dagBomb(40)), false));
    const { frame, body } = await raw.call(2, ECHO('next'));
    expect(frame.id).toBe(2); // nothing came for id 1
    expect(body).toBe('next');
    expect(raw.unread).toBe(0);
    expect(provider.echo.notified).toEqual([]);
  });

  it('malformed MessagePack in a call (truncated after a valid prefix) still closes the connection', async () => {
    const { raw } = await setup();
    raw.send(callFrame(1, hex('96a9')));
    expect(await raw.closedWithin(1000)).toBe(true);
  });

  it('a DAG bomb as the handshake body: refused with PROTOCOL_ERROR, then closed', async () => {
    const provider = defer(await startServer(), (s) => s.close());
    const raw = defer(await RawConnection.open(provider.port, { handshake: false }), (r) => r.destroy());
    raw.send(encodeFrame(FLAGS.handshake, 0, FrameType.Handshake, 0, dagBomb(40)));
    const answer = await raw.nextFrame(1000);
    expect(answer?.type).toBe(FrameType.Handshake);
    expect(statusCode(answer!)).toBe('PROTOCOL_ERROR');
    expect(await raw.closedWithin(1000)).toBe(true);
  });
});

@Service('test.Pusher', { methods: { watch: { callbacks: [0] } } })
abstract class Pusher {
  abstract watch(listener: (n: number) => unknown): Promise<string>;
}

@Provider(Pusher)
class PusherImpl implements Pusher {
  /** Outcome of the first push to each listener. */
  readonly outcomes: Array<ReturnType<typeof track>> = [];

  async watch(listener: Callback<(n: number) => unknown>): Promise<string> {
    this.outcomes.push(track(listener(1)));
    return 'watching';
  }
}

describe('hostile answers to a provider push', () => {
  const defer = useCleanup();

  it('a DAG bomb as the answer to a push: the push fails PROTOCOL_ERROR and the connection closes', async () => {
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    const impl = new PusherImpl();
    srv.server.register(impl);
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    raw.send(callFrame(1, ['test.Pusher', '', '', 'watch', [1], null]));
    const frames = [await raw.nextFrame(), await raw.nextFrame()];
    const push = frames.find((f) => f !== undefined && f.flags === FLAGS.callTwoWay)!;
    expect(decodeBody(push.body)).toEqual([1, [1]]);
    raw.send(responseFrame(push.id, 0, dagBomb(40)));
    await waitFor(() => impl.outcomes[0]!.settled, 1000, 'the push to settle');
    expect((impl.outcomes[0]!.error as HeartlineError).code).toBe('PROTOCOL_ERROR');
    expect(await raw.closedWithin(1000)).toBe(true);
  });

  it('an undecodable error body in the answer to a push: the push fails PROTOCOL_ERROR and the connection closes', async () => {
    const srv = defer(await startServer({ register: false }), (s) => s.close());
    const impl = new PusherImpl();
    srv.server.register(impl);
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    raw.send(callFrame(1, ['test.Pusher', '', '', 'watch', [1], null]));
    const frames = [await raw.nextFrame(), await raw.nextFrame()];
    const push = frames.find((f) => f !== undefined && f.flags === FLAGS.callTwoWay)!;
    raw.send(responseFrame(push.id, ERROR_CODES.HANDLER_ERROR.status, hex('c1')));
    await waitFor(() => impl.outcomes[0]!.settled, 1000, 'the push to settle');
    expect((impl.outcomes[0]!.error as HeartlineError).code).toBe('PROTOCOL_ERROR');
    expect(await raw.closedWithin(1000)).toBe(true);
  });
});

describe('hostile bodies from a provider', () => {
  const defer = useCleanup();

  /** The reasons of the client's disconnect events, as they come. */
  function disconnects(client: Client): string[] {
    const reasons: string[] = [];
    client.on('disconnect', (_info, reason) => reasons.push(reason));
    return reasons;
  }

  /** A fake provider answering `echo` normally and `fail(x)` with the frame `reply(id)`. */
  async function fakeAnswering(reply: (id: number) => Buffer): Promise<FakeProvider> {
    return defer(
      await FakeProvider.start(({ frame, request, socket }) => {
        const [, , , method, args] = request as [string, string, string, string, unknown[]];
        socket.write(method === 'fail' ? reply(frame.id) : responseFrame(frame.id, 0, encodeBody(args[0])));
      }),
      (f) => f.close(),
    );
  }

  it('a DAG bomb as a response body: the call fails PROTOCOL_ERROR at once, the consumer is not blocked, the connection closes', async () => {
    const fake = await fakeAnswering((id) => responseFrame(id, 0, dagBomb(40)));
    const client = defer(newClient(fake.address, { timeout: 30_000 }), (c) => c.close());
    const reasons = disconnects(client);
    const echo = client.refer(Echo);
    expect(await echo.echo('warm up')).toBe('warm up');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const started = performance.now();
    await expectCode(echo.fail('bomb'), 'PROTOCOL_ERROR');
    expect(performance.now() - started).toBeLessThan(500);
    await waitFor(() => reasons.length > 0, 1000, 'the connection to close');
    clearInterval(ticker);
    expect(reasons).toEqual(['protocol-error']);
    expect(ticks).toBeGreaterThan(0); // the event loop kept turning
  });

  it('an undecodable error body (OK status or not) closes the connection; that call fails PROTOCOL_ERROR', async () => {
    for (const body of [hex('c1'), dagBomb(20), PROTO_KEY]) {
      const fake = await fakeAnswering((id) => responseFrame(id, ERROR_CODES.HANDLER_ERROR.status, body));
      const client = defer(newClient(fake.address), (c) => c.close());
      const reasons = disconnects(client);
      const echo = client.refer(Echo);
      expect(await echo.echo('warm up')).toBe('warm up');
      await expectCode(echo.fail('x'), 'PROTOCOL_ERROR');
      await waitFor(() => reasons.length > 0, 1000, 'the connection to close');
      expect(reasons, body.toString('hex').slice(0, 8)).toEqual(['protocol-error']);
    }
  });

  it('a status of a local code (TIMEOUT, CONNECT_FAILED, SERVER_CLOSED) on the wire: that call fails PROTOCOL_ERROR, the connection stays', async () => {
    for (const code of ['TIMEOUT', 'CONNECT_FAILED', 'CLIENT_CLOSED', 'SERVER_CLOSED'] as const) {
      const fake = await fakeAnswering((id) => responseFrame(id, ERROR_CODES[code].status, errorMap(code, 'from the wire')));
      const client = defer(newClient(fake.address), (c) => c.close());
      const echo = client.refer(Echo);
      expect(await echo.echo('warm up')).toBe('warm up');
      const firstId = client.connections()[0]!.id;
      const err = await expectCode(echo.fail('x'), 'PROTOCOL_ERROR');
      expect(err.remote, code).toBe(false);
      expect(await echo.echo('still here')).toBe('still here');
      expect(client.connections().map((c) => c.id)).toEqual([firstId]);
    }
  });

  it('a refused push request (DAG bomb in [id, args]): answered BAD_REQUEST, the connection stays', async () => {
    let socketOf: import('node:net').Socket | undefined;
    const answers: Array<{ status: number; body: unknown }> = [];
    const fake = defer(
      await FakeProvider.start(({ frame, request, socket }) => {
        if ((frame.flags & 0x80) === 0) {
          answers.push({ status: frame.status, body: request });
          return;
        }
        socketOf = socket;
        const [, , , , args] = request as [string, string, string, string, unknown[]];
        socket.write(responseFrame(frame.id, 0, encodeBody(args[0])));
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('warm up')).toBe('warm up');
    const firstId = client.connections()[0]!.id;
    const push = Buffer.concat([hex('9201'), hex('91'), dagBomb(40)]); // [1, [bomb]]
    socketOf!.write(encodeFrame(FLAGS.callTwoWay, 0, FrameType.Call, 7, push));
    socketOf!.write(encodeFrame(FLAGS.callTwoWay, 0, FrameType.Call, 8, Buffer.alloc(0)));
    await waitFor(() => answers.length === 2, 1000, 'the answers to the pushes');
    expect(answers.map((a) => a.status)).toEqual([ERROR_CODES.BAD_REQUEST.status, ERROR_CODES.BAD_REQUEST.status]);
    expect(await echo.echo('still here')).toBe('still here');
    expect(client.connections().map((c) => c.id)).toEqual([firstId]);
  });

  it('a DAG bomb as the handshake answer: the connection fails, the queued call fails CONNECT_FAILED quickly', async () => {
    const fake = defer(
      await FakeProvider.start(() => undefined, { onHandshake: (frame, socket) => socket.write(handshakeResponse(frame.id, 0, dagBomb(40))) }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { timeout: 30_000, connectTimeout: 5000 }), (c) => c.close());
    const started = performance.now();
    await expectCode(client.refer(Echo).echo('queued'), 'CONNECT_FAILED');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('drain bodies: a map is a drain; an array or a refused body is a protocol error', async () => {
    for (const [body, reason] of [
      [encodeBody({ reason: 'shutting down', deadline: 10_000 }), 'drain'],
      [encodeBody([1]), 'protocol-error'],
      [dagBomb(20), 'protocol-error'],
    ] as const) {
      // The drain, then the answer to the call that asked for it.
      const fake = await fakeAnswering((id) => Buffer.concat([encodeFrame(FLAGS.drain, 0, FrameType.Drain, 0, body), responseFrame(id, 0, encodeBody('ok'))]));
      const client = defer(newClient(fake.address), (c) => c.close());
      const reasons = disconnects(client);
      const echo = client.refer(Echo);
      expect(await echo.echo('warm up')).toBe('warm up');
      void echo.fail('send a drain').catch(() => undefined);
      await waitFor(() => reasons.length > 0, 1000, 'the connection to close');
      expect(reasons, body.toString('hex').slice(0, 8)).toEqual([reason]);
    }
  });
});
