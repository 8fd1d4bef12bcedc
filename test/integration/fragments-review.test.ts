// Adversarial review of fragment frames (protocol.md 4.9): a hostile, slow or
// dead peer against the writer's accounting and the receiver's limits.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, FLAG_MORE, FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags, type Frame } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse } from '../helpers/fake-provider.js';
import { RawConnection, statusCode } from '../helpers/raw-socket.js';
import { newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();
const MiB = 1024 * 1024;

/** A provider that agrees fragments, then never reads another byte (a stalled peer). */
async function stalledProvider(): Promise<{ fake: FakeProvider; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const fake = await FakeProvider.start(() => undefined, {
    onHandshake: (frame, socket) => {
      sockets.push(socket);
      socket.write(handshakeResponse(frame.id, 0, encodeBody({ version: 2, maxFrameSize: 256 * MiB, heartbeat: 0, idleTimeout: 0, fragments: true })));
      socket.pause();
    },
  });
  return { fake, sockets };
}

describe('a connection lost while large requests are being sent in fragments', () => {
  it('a large request cut before its final fragment, and one never started, fail CONNECTION_LOST_UNWRITTEN; a whole frame written before fails WRITTEN', async () => {
    const { fake, sockets } = await stalledProvider();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address, { timeout: 20_000, retries: 0, fragmentSize: 65536, maxQueuedBytes: 128 * MiB }), (c) => c.close());
    const echo = client.refer(Echo);
    // The kernel buffers a few MiB at most: a 24 MiB body cannot get through to a peer that does not read.
    const first = echo.echo(Buffer.alloc(24 * MiB, 1));
    const small = echo.echo('small'); // queued in the same tick: written whole with the first fragment
    const second = echo.echo(Buffer.alloc(24 * MiB, 2));
    await waitFor(() => sockets.length === 1);
    // Let the writer fill the socket and stall on 'drain'.
    await new Promise((resolve) => setTimeout(resolve, 300));
    sockets[0]!.destroy();
    const [a, b, c] = await Promise.allSettled([first, small, second]);
    const code = (r: PromiseSettledResult<unknown>): string | undefined => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'resolved');
    // The small call's frame reached the socket: the provider may have run it.
    expect(code(b)).toBe('CONNECTION_LOST_WRITTEN');
    // The provider cannot have run a message whose final fragment never left (protocol.md 4.9: it only reads the whole body).
    expect(code(a)).toBe('CONNECTION_LOST_UNWRITTEN');
    expect(code(c)).toBe('CONNECTION_LOST_UNWRITTEN');
  }, 20_000);
});

/** A seven-item request to test.Echo/echo with `args`, no budget. */
function echoRequest(args: unknown[]): Buffer {
  return encodeBody(['test.Echo', '1.0.0', '', 'echo', args, {}, null]);
}

describe('a raw consumer that agreed fragments, against the provider', () => {
  it('oversize one-way and two-way messages, a whole frame of another id between fragments: one answer per two-way id, none for the one-way, and the connection goes on', async () => {
    const { port } = defer(await startServer({ maxFrameSize: 64 * 1024 }), (s) => s.close());
    const raw = defer(await RawConnection.open(port, { handshake: false }), (r) => r.destroy());
    raw.send(encodeFrame(frameFlags(FrameType.Handshake, true, true), 0, FrameType.Handshake, 0, encodeBody({ version: 2, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, heartbeat: 0, fragments: true })));
    expect((decodeBody((await raw.nextFrame())!.body) as { fragments?: boolean }).fragments).toBe(true);
    const twoWay = frameFlags(FrameType.Call, true, true);
    const oneWay = frameFlags(FrameType.Call, true, false);
    const frag = (flags: number, more: boolean, id: number, part: Buffer): Buffer => encodeFrame(more ? flags | FLAG_MORE : flags, 0, FrameType.Call, id, part);
    const big = echoRequest([Buffer.alloc(100 * 1024, 3)]);
    const out: Buffer[] = [];
    // One-way, over the limit, in 16 KiB fragments: skipped, never answered.
    for (let at = 0; at < big.length; at += 16 * 1024) out.push(frag(oneWay, at + 16 * 1024 < big.length, 10, big.subarray(at, at + 16 * 1024)));
    // A message open (id 11), a whole call of another id (12) before its final fragment.
    const small = echoRequest(['eleven']);
    out.push(frag(twoWay, true, 11, small.subarray(0, 5)));
    out.push(frag(twoWay, false, 12, echoRequest(['twelve'])));
    out.push(frag(twoWay, false, 11, small.subarray(5)));
    // Two-way, over the limit, with empty fragments and a ping between: one PAYLOAD_TOO_LARGE.
    out.push(frag(twoWay, true, 13, Buffer.alloc(0)));
    for (let at = 0; at < big.length; at += 32 * 1024) {
      out.push(frag(twoWay, true, 13, big.subarray(at, at + 32 * 1024)));
      out.push(encodeFrame(frameFlags(FrameType.Heartbeat, true, true), 0, FrameType.Heartbeat, 900 + at, undefined));
    }
    out.push(frag(twoWay, false, 13, Buffer.alloc(0)));
    out.push(frag(twoWay, false, 14, echoRequest(['fourteen'])));
    raw.send(Buffer.concat(out));
    const got: Frame[] = [];
    while (!got.some((f) => f.id === 14 && f.type === FrameType.Call)) {
      const f = await raw.nextFrame(3000);
      if (f === undefined) break;
      got.push(f);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    while (raw.unread > 0) got.push((await raw.nextFrame())!);
    const calls = got.filter((f) => f.type === FrameType.Call);
    expect(calls.map((f) => f.id).sort()).toEqual([11, 12, 13, 14]);
    expect(statusCode(calls.find((f) => f.id === 13)!)).toBe('PAYLOAD_TOO_LARGE');
    expect(calls.filter((f) => f.id !== 13).map((f) => decodeBody(f.body))).toEqual(expect.arrayContaining(['eleven', 'twelve', 'fourteen']));
    expect(got.filter((f) => f.type === FrameType.Heartbeat)).toHaveLength(4);
    expect(raw.isClosed).toBe(false);
  });
});

describe('a consumer writing a large request to a provider that stopped reading', () => {
  it('waits on drain without spinning, and refuses what passes maxQueuedBytes (the large body counted)', async () => {
    const { fake, sockets } = await stalledProvider();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address, { timeout: 20_000, retries: 0, fragmentSize: 65536, maxQueuedBytes: 16 * MiB }), (c) => c.close());
    const echo = client.refer(Echo);
    const big = echo.echo(Buffer.alloc(14 * MiB, 1));
    big.catch(() => undefined);
    await waitFor(() => sockets.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Blocked: the event loop is idle (no setImmediate turn per blocked fragment).
    const cpu = process.cpuUsage();
    const before = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const used = process.cpuUsage(cpu);
    expect(performance.now() - before).toBeGreaterThan(400);
    expect((used.user + used.system) / 1000).toBeLessThan(150);
    // Past the bound, calls are refused at once: 34 MiB offered in all, of which the kernel holds a few MiB at most.
    const more = Array.from({ length: 5 }, (_, k) => echo.echo(Buffer.alloc(4 * MiB, 2 + k)));
    const outcomes = await Promise.race([Promise.allSettled(more), new Promise((resolve) => setTimeout(() => resolve('pending'), 300))]);
    expect(outcomes).toBe('pending'); // the accepted ones wait behind the stalled socket
    const refused = await Promise.allSettled(more.map((p) => Promise.race([p, new Promise((resolve) => setTimeout(() => resolve('pending'), 50))])));
    const codes = refused.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : r.value));
    expect(codes).toContain('LIMIT_EXCEEDED');
    expect(codes).toContain('pending');
    for (const p of more) p.catch(() => undefined);
  }, 20_000);
});

/**
 * Two scripted providers that agree fragments. The first to receive a request
 * fragment stops reading (its consumer's writer stalls mid-message), answers
 * UNAVAILABLE after `delay` ms (retry-safe: the consumer fails over), then
 * reads the rest; the other answers at once. Each records the request bodies
 * it reassembled.
 */
async function retryPair(delay: number) {
  const { createServer } = await import('node:net');
  const bodies: Buffer[][] = [[], []];
  let first = -1;
  const servers = [0, 1].map((which) =>
    createServer((socket) => {
      socket.on('error', () => undefined);
      let bytes = Buffer.alloc(0);
      let parts: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        while (bytes.length >= 16 && bytes.length >= 16 + bytes.readUInt32BE(12)) {
          const flags = bytes[3]!;
          const type = bytes[5]!;
          const id = bytes.readUInt32BE(8);
          const body = Buffer.from(bytes.subarray(16, 16 + bytes.readUInt32BE(12)));
          bytes = bytes.subarray(16 + body.length);
          if (type === FrameType.Handshake) {
            socket.write(handshakeResponse(id, 0, encodeBody({ version: 2, maxFrameSize: 256 * MiB, heartbeat: 0, idleTimeout: 0, fragments: true })));
            continue;
          }
          if (type !== FrameType.Call) continue;
          parts.push(body);
          if (first === -1) {
            first = which;
            socket.pause();
            setTimeout(() => {
              socket.write(encodeFrame(frameFlags(FrameType.Call, false, false), 12, FrameType.Call, id, encodeBody({ code: 'UNAVAILABLE', message: 'busy' })));
              setTimeout(() => socket.resume(), 50);
            }, delay);
          }
          if ((flags & FLAG_MORE) !== 0) continue;
          bodies[which]!.push(Buffer.concat(parts));
          parts = [];
          if (which !== first) socket.write(encodeFrame(frameFlags(FrameType.Call, false, false), 0, FrameType.Call, id, encodeBody('ok')));
        }
      });
    }),
  );
  for (const s of servers) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const addresses = servers.map((s) => `127.0.0.1:${(s.address() as { port: number }).port}`);
  return { addresses, bodies, first: () => first, close: () => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))) };
}

describe('a large request retried while its first attempt is still being written', () => {
  it('the retry patches its own copy: the first attempt keeps the budget it was queued with, to its last byte', async () => {
    const pair = await retryPair(60);
    defer(pair, (p) => p.close());
    const client = defer(newClient(undefined, { providers: pair.addresses, timeout: 20_000, retries: 1, fragmentSize: 65536, maxQueuedBytes: 256 * MiB }), (c) => c.close());
    const payload = Buffer.alloc(24 * MiB, 6);
    expect(await client.refer(Echo).echo(payload)).toBe('ok');
    const attempts = [pair.bodies[pair.first()]!, pair.bodies[1 - pair.first()]!];
    await waitFor(() => attempts[0]!.length === 1, 10_000);
    const [a, b] = [attempts[0]![0]!, attempts[1]![0]!];
    const budget = (body: Buffer): number => body.readUInt32BE(body.length - 4);
    // Identical requests but for the budget: the first was written at once, the retry some 60 ms later.
    expect(a.length).toBe(b.length);
    expect(a.subarray(0, a.length - 5).equals(b.subarray(0, b.length - 5))).toBe(true);
    expect(budget(a)).toBeGreaterThan(19_000);
    expect(budget(a) - budget(b)).toBeGreaterThanOrEqual(40);
  }, 30_000);
});

describe('failover of a large request cut mid-message', () => {
  it('a provider lost while the request was half-sent: the call is retried on another provider (its outcome was not unknown) and succeeds', async () => {
    const { fake, sockets } = await stalledProvider();
    defer(fake, (f) => f.close());
    const { address } = defer(await startServer({ maxFrameSize: 64 * MiB, maxQueuedBytes: 128 * MiB }), (s) => s.close());
    const client = defer(newClient(undefined, { providers: [fake.address, address], random: () => 0, timeout: 20_000, retries: 1, fragmentSize: 65536, maxFrameSize: 64 * MiB, maxQueuedBytes: 128 * MiB }), (c) => c.close());
    const payload = Buffer.alloc(24 * MiB, 5);
    const call = client.refer(Echo).echo(payload);
    await waitFor(() => sockets.length === 1, 5000); // the first attempt went to the stalled provider
    await new Promise((resolve) => setTimeout(resolve, 300));
    sockets[0]!.destroy();
    const got = (await call) as Uint8Array;
    expect(got.length).toBe(payload.length);
  }, 30_000);
});
