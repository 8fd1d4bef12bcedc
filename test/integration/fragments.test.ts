// Fragment frames over real sockets (protocol.md 4.9): a large body goes out
// in fragments that the writer interleaves with other frames, so small calls
// on the same connection do not wait behind it.
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, FLAG_MORE, FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { Provider, Service, withOptions, type Callback } from '../../src/index.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse, responseFrame } from '../helpers/fake-provider.js';
import { RawConnection, statusCode } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();
const MiB = 1024 * 1024;

function hello(fields: Record<string, unknown>): Buffer {
  return encodeFrame(frameFlags(FrameType.Handshake, true, true), 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, heartbeat: 0, ...fields }));
}

/** A raw consumer that sent `fields` in its hello; returns it and the provider's answer. */
async function rawConsumer(port: number, fields: Record<string, unknown>) {
  const raw = defer(await RawConnection.open(port, { handshake: false }), (r) => r.destroy());
  raw.send(hello(fields));
  const answer = await raw.nextFrame();
  return { raw, answer: decodeBody(answer!.body) as Record<string, unknown> };
}

/** A seven-item request to test.Echo/echo with `args`, no budget. */
function echoRequest(args: unknown[]): Buffer {
  return encodeBody(['test.Echo', '1.0.0', '', 'echo', args, {}, null]);
}

interface RawFrame {
  flags: number;
  status: number;
  id: number;
  body: Buffer;
}

/** Frames read straight off `raw`'s socket, MORE and all, until `last` matches one. */
function rawFrames(raw: RawConnection, last: (f: RawFrame) => boolean): Promise<RawFrame[]> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const frames: RawFrame[] = [];
    const timer = setTimeout(() => reject(new Error('no last frame within 3 s')), 3000);
    raw.socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      while (bytes.length >= 16 && bytes.length >= 16 + bytes.readUInt32BE(12)) {
        const length = bytes.readUInt32BE(12);
        const f = { flags: bytes[3]!, status: bytes[4]!, id: bytes.readUInt32BE(8), body: bytes.subarray(16, 16 + length) };
        frames.push(f);
        bytes = bytes.subarray(16 + length);
        if (last(f)) {
          clearTimeout(timer);
          resolve(frames);
        }
      }
    });
  });
}

describe('fragments between Heartline peers', () => {
  it('a 4 MiB echo round-trips while 64 B calls on the same connection complete before it', async () => {
    const { server, address } = defer(await startServer(), (s) => s.close());
    const client = defer(newClient(address, { timeout: 10_000 }), (c) => c.close());
    const echo = client.refer(Echo);
    await echo.echo('warm');
    const big = Buffer.alloc(4 * MiB, 7);
    let bigDone = false;
    const large = echo.echo(big).then((got) => {
      bigDone = true;
      return got;
    });
    // Small calls one after another while the large one is under way. With whole frames, not even
    // the first could finish before it: its request and response are queued behind the 4 MiB ones.
    let before = 0;
    for (let i = 0; i < 200 && !bigDone; i++) {
      const got = await echo.echo(Buffer.alloc(64, i));
      expect(Buffer.from(got as Uint8Array)).toEqual(Buffer.alloc(64, i));
      if (!bigDone) before++;
    }
    const got = Buffer.from((await large) as Uint8Array);
    expect(got.equals(big)).toBe(true);
    expect(before).toBeGreaterThanOrEqual(5);
    expect(server.connectionsAccepted).toBe(1);
  });

  it('a consumer with fragmentSize 0 gets whole frames from a provider that has them, and vice versa', async () => {
    for (const [clientSize, serverSize] of [[0, 65536], [65536, 0]] as const) {
      const { address } = defer(await startServer({ fragmentSize: serverSize }), (s) => s.close());
      const client = defer(newClient(address, { timeout: 10_000, fragmentSize: clientSize }), (c) => c.close());
      const echo = client.refer(Echo);
      const big = Buffer.alloc(MiB, 3);
      const [got, small] = await Promise.all([echo.echo(big), echo.echo('small')]);
      expect(Buffer.from(got as Uint8Array).equals(big)).toBe(true);
      expect(small).toBe('small');
    }
  });

  it('an oversized fragmented request is answered PAYLOAD_TOO_LARGE and the connection stays usable', async () => {
    const { address, port } = defer(await startServer({ maxFrameSize: 256 * 1024 }), (s) => s.close());
    const client = defer(newClient(address, { timeout: 10_000, fragmentSize: 4096 }), (c) => c.close());
    const echo = client.refer(Echo);
    // The consumer knows the provider's limit and refuses before writing: go around it with a raw consumer too.
    await expectCode(echo.echo(Buffer.alloc(512 * 1024)), 'PAYLOAD_TOO_LARGE');
    const { raw, answer } = await rawConsumer(port, { fragments: true });
    expect(answer.fragments).toBe(true);
    const body = echoRequest([Buffer.alloc(300 * 1024, 1)]);
    const flags = frameFlags(FrameType.Call, true, true);
    for (let at = 0; at < body.length; at += 64 * 1024) {
      const end = Math.min(body.length, at + 64 * 1024);
      raw.send(encodeFrame(end === body.length ? flags : flags | FLAG_MORE, 0, FrameType.Call, 5, body.subarray(at, end)));
    }
    const refused = await raw.nextFrame(2000);
    expect(refused!.id).toBe(5);
    expect(statusCode(refused!)).toBe('PAYLOAD_TOO_LARGE');
    const ok = await raw.call(6, ['test.Echo', '1.0.0', '', 'echo', ['after'], {}, null]);
    expect(ok.code).toBeUndefined();
    expect(ok.body).toBe('after');
    expect(await echo.echo('still fine')).toBe('still fine');
  });
});

@Service('test.Feed', { methods: { relay: { callbacks: [1] } } })
abstract class Feed {
  abstract relay(size: number, listener: (data: unknown) => Promise<unknown>): Promise<number>;
}

@Provider(Feed)
class FeedImpl implements Feed {
  /** Pushes `size` bytes to the consumer's callback, which answers with as many; returns the answer's length. */
  async relay(size: number, listener: Callback): Promise<number> {
    const answer = (await listener(Buffer.alloc(size, 5))) as Uint8Array;
    listener.release();
    return answer.length;
  }
}

describe('fragments in pushes, and cancellation', () => {
  it('a pushed callback with a 2 MiB body, answered with 2 MiB, both fragmented', async () => {
    const { server, address } = defer(await startServer({ fragmentSize: 4096 }), (s) => s.close());
    server.register(new FeedImpl());
    const client = defer(newClient(address, { timeout: 10_000, fragmentSize: 4096 }), (c) => c.close());
    const feed = client.refer(Feed);
    const echo = client.refer(Echo);
    let pushed = 0;
    const relayed = feed.relay(2 * MiB, async (data) => {
      pushed = (data as Uint8Array).length;
      // A small call on the same connection while the push's answer is about to go out.
      expect(await echo.echo('during')).toBe('during');
      return Buffer.alloc(2 * MiB, 6);
    });
    expect(await relayed).toBe(2 * MiB);
    expect(pushed).toBe(2 * MiB);
  });

  it('a large call cancelled mid-send: CANCELLED at once, its last fragments still go (then its Cancel), the connection stays usable', async () => {
    const { echo: impl, address } = defer(await startServer({ fragmentSize: 1024 }), (s) => s.close());
    const client = defer(newClient(address, { timeout: 10_000, fragmentSize: 1024 }), (c) => c.close());
    const echo = client.refer(Echo);
    await echo.echo('warm');
    const controller = new AbortController();
    const sent = echo.echo; // keep the stub's method
    const big = withOptions(echo, { signal: controller.signal }).echo(Buffer.alloc(2 * MiB, 9));
    // A second large call queued behind it is cancelled before its first fragment: it is never sent.
    const second = new AbortController();
    const never = withOptions(echo, { signal: second.signal }).echo(Buffer.alloc(2 * MiB, 8));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    second.abort();
    await expectCode(big, 'CANCELLED');
    await expectCode(never, 'CANCELLED');
    expect(await sent.call(echo, 'after')).toBe('after');
    // The started one reached the provider whole; the one not started never did.
    await waitFor(() => impl.received.some((args) => Buffer.isBuffer(args[0]) || args[0] instanceof Uint8Array));
    const sizes = impl.received.map((args) => (args[0] as { length?: number }).length);
    expect(sizes).toContain(2 * MiB);
    expect(impl.received.filter((args) => (args[0] as Uint8Array)[0] === 8 && (args[0] as Uint8Array).length === 2 * MiB)).toHaveLength(0);
    expect(await echo.echo('still')).toBe('still');
  });
});

describe('the handshake capability', () => {
  it('a raw consumer that does not announce fragments gets a 1 MiB answer as one whole frame', async () => {
    const { port } = defer(await startServer({ fragmentSize: 1024 }), (s) => s.close());
    const { raw, answer } = await rawConsumer(port, {});
    expect(answer.fragments).toBeUndefined();
    const r = await raw.call(1, ['test.Echo', '1.0.0', '', 'blob', [MiB], {}, null], 5000);
    expect(r.code).toBeUndefined();
    expect((r.body as string).length).toBe(MiB);
    expect(r.frame.flags & FLAG_MORE).toBe(0);
  });

  it('a raw consumer that announces fragments gets MORE frames, and may send them', async () => {
    const { port } = defer(await startServer({ fragmentSize: 1024 }), (s) => s.close());
    const { raw, answer } = await rawConsumer(port, { fragments: true });
    expect(answer.fragments).toBe(true);
    const flags = frameFlags(FrameType.Call, true, true);
    const body = echoRequest(['x'.repeat(3000)]);
    raw.send(encodeFrame(flags | FLAG_MORE, 0, FrameType.Call, 1, body.subarray(0, 1000)));
    raw.send(encodeFrame(flags, 0, FrameType.Call, 2, echoRequest(['between'])));
    raw.send(encodeFrame(flags, 0, FrameType.Call, 1, body.subarray(1000)));
    // RawConnection's decoder has no fragments (MORE stops it): read the frames off the socket here.
    const frames = await rawFrames(raw, (f) => f.id === 1 && (f.flags & FLAG_MORE) === 0);
    expect(frames.filter((f) => f.id === 2).map((f) => decodeBody(f.body))).toEqual(['between']);
    const parts = frames.filter((f) => f.id === 1);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.slice(0, -1).every((f) => (f.flags & FLAG_MORE) !== 0)).toBe(true);
    expect(decodeBody(Buffer.concat(parts.map((f) => f.body)))).toBe('x'.repeat(3000));
  });

  it('a raw consumer that sends MORE without having negotiated fragments is closed for a protocol error', async () => {
    const { server, port } = defer(await startServer(), (s) => s.close());
    const reasons: string[] = [];
    server.on('disconnect', (_info, reason) => reasons.push(reason));
    const { raw, answer } = await rawConsumer(port, {});
    expect(answer.fragments).toBeUndefined();
    raw.send(encodeFrame(frameFlags(FrameType.Call, true, true) | FLAG_MORE, 0, FrameType.Call, 1, echoRequest(['x']).subarray(0, 4)));
    expect(await raw.closedWithin(2000)).toBe(true);
    await waitFor(() => reasons.length === 1);
    expect(reasons).toEqual(['protocol-error']);
  });

  it('a hello whose fragments is not a boolean is a malformed handshake', async () => {
    const { port } = defer(await startServer(), (s) => s.close());
    const raw = defer(await RawConnection.open(port, { handshake: false }), (r) => r.destroy());
    raw.send(hello({ fragments: 1 }));
    const refusal = await raw.nextFrame();
    expect(statusCode(refusal!)).toBe('PROTOCOL_ERROR');
  });

  it('a consumer (fragmentSize 1024) against a provider without the capability sends a 1 MiB request as one whole frame', async () => {
    const sizes: number[] = [];
    const fake = defer(
      await FakeProvider.start(({ frame, request, socket }) => {
        sizes.push(frame.body.length);
        socket.write(responseFrame(frame.id, 0, encodeBody((request![4] as unknown[])[0])));
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { timeout: 5000, fragmentSize: 1024 }), (c) => c.close());
    const got = await client.refer(Echo).echo(Buffer.alloc(MiB, 4));
    expect(Buffer.from(got as Uint8Array).equals(Buffer.alloc(MiB, 4))).toBe(true);
    expect(sizes).toHaveLength(1);
    expect(sizes[0]).toBeGreaterThan(MiB);
  });

  const answers: Array<[string, Record<string, unknown>, number]> = [
    ['fragments that is not a boolean', { fragments: 'yes' }, 65536],
    ['fragments: true to a consumer that did not offer them', { fragments: true }, 0],
  ];
  for (const [name, extra, fragmentSize] of answers) {
    it(`an answer with ${name} is a bad answer: the call fails CONNECT_FAILED`, async () => {
      const fake = defer(
        await FakeProvider.start(() => undefined, {
          onHandshake: (frame, socket) => socket.write(handshakeResponse(frame.id, 0, encodeBody({ version: 2, maxFrameSize: 1 << 20, heartbeat: 0, idleTimeout: 0, ...extra }))),
        }),
        (f) => f.close(),
      );
      const client = defer(newClient(fake.address, { timeout: 2000, fragmentSize }), (c) => c.close());
      await expectCode(client.refer(Echo).echo('x'), 'CONNECT_FAILED');
    });
  }
});
