import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags, writeHeader } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { callFrame, RawConnection, statusCode } from '../helpers/raw-socket.js';
import { newClient, startServer, useCleanup, type StartedServer } from '../helpers/server.js';

const ECHO = (value: unknown): unknown[] => ['test.Echo', '1.0.0', '', 'echo', [value], null];
const CALL_FLAGS = frameFlags(FrameType.Call, true, true);

/** A call request header declaring `length` body bytes. */
function callHeader(id: number, length: number): Buffer {
  const header = Buffer.alloc(16);
  writeHeader(header, 0, CALL_FLAGS, 0, FrameType.Call, id, length);
  return header;
}

describe('bad input from a consumer', () => {
  const defer = useCleanup();
  let provider: StartedServer;

  beforeEach(async () => {
    provider = defer(await startServer(), (s) => s.close());
  });

  /** The provider is still up: a separate, well-behaved client's calls work. */
  async function expectProviderServes(): Promise<void> {
    const client = defer(newClient(provider.address), (c) => c.close());
    expect(await client.refer(Echo).echo('still serving')).toBe('still serving');
  }

  async function open(handshake = true): Promise<RawConnection> {
    return defer(await RawConnection.open(provider.port, { handshake }), (r) => r.destroy());
  }

  it('random bytes: the provider closes that connection and keeps serving', async () => {
    const raw = await open();
    const junk = randomBytes(4096);
    junk[0] = 0x00; // never the first magic byte, so the header is certainly bad
    raw.send(junk);
    expect(await raw.closedWithin(1000)).toBe(true);
    expect(raw.unread).toBe(0);
    await expectProviderServes();
  });

  it('a wrong magic: the provider closes that connection and keeps serving', async () => {
    const raw = await open();
    const frame = callFrame(1, ECHO('x'));
    frame[0] = 0x47;
    frame[1] = 0x4c;
    raw.send(frame);
    expect(await raw.closedWithin(1000)).toBe(true);
    expect(raw.unread).toBe(0);
    await expectProviderServes();
  });

  it('a declared length over the limit: PAYLOAD_TOO_LARGE for that id, nothing allocated, the connection stays usable', async () => {
    const raw = await open();
    const declared = 100 * 1024 * 1024;
    expect(declared).toBeGreaterThan(DEFAULT_MAX_FRAME_SIZE);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const before = process.memoryUsage().arrayBuffers;

    raw.send(callHeader(42, declared));
    raw.send(chunk);
    const answer = await raw.nextFrame();
    expect(answer?.id).toBe(42);
    expect(answer?.type).toBe(FrameType.Call);
    expect(statusCode(answer!)).toBe('PAYLOAD_TOO_LARGE');
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(32 * 1024 * 1024);

    // The provider skips the declared body as it arrives; after it, the next frame is served.
    for (let sent = chunk.length; sent < declared; sent += chunk.length) raw.send(chunk.subarray(0, Math.min(chunk.length, declared - sent)));
    const { frame, code, body } = await raw.call(43, ECHO('after oversize'), 5000);
    expect(frame.id).toBe(43);
    expect(code).toBeUndefined();
    expect(body).toBe('after oversize');
    expect(raw.isClosed).toBe(false);
    await expectProviderServes();
  });

  it('a two-way request to a method the contract declares one-way is answered (the flags decide, not the contract)', async () => {
    const raw = await open();
    const { frame, body } = await raw.call(52, ['test.Echo', '1.0.0', '', 'notify', ['x', 0], null], 5000);
    expect(frame.status).toBe(0);
    expect(frame.body.length).toBe(0); // the handler returned undefined: no value (protocol.md 4.2)
    expect(body).toBeUndefined();
  });

  it('an oversized one-way request is skipped without an answer; the connection stays usable', async () => {
    const raw = await open();
    const declared = DEFAULT_MAX_FRAME_SIZE; // 16 + declared is one frame over the limit
    const header = Buffer.alloc(16);
    writeHeader(header, 0, frameFlags(FrameType.Call, true, false), 0, FrameType.Call, 50, declared);
    raw.send(header);
    raw.send(Buffer.alloc(declared));
    const { frame, body } = await raw.call(51, ECHO('after one-way oversize'), 5000);
    expect(frame.id).toBe(51);
    expect(body).toBe('after one-way oversize');
    expect(raw.unread).toBe(0);
  });

  it('a truncated frame (header, part of the body, then close): the provider keeps serving', async () => {
    const raw = await open();
    const frame = callFrame(3, ECHO('truncated'));
    raw.send(frame.subarray(0, 16 + 3));
    raw.end();
    expect(await raw.closedWithin(1000)).toBe(true);
    expect(raw.unread).toBe(0);
    await expectProviderServes();
    expect(provider.server.connectionCount).toBe(1); // only the good client's connection is left
  });

  it('a body that is not valid MessagePack (0xc1): the provider closes that connection and keeps serving', async () => {
    const raw = await open();
    raw.send(callFrame(4, Buffer.from([0xc1])));
    expect(await raw.closedWithin(1000)).toBe(true);
    await expectProviderServes();
  });

  it('a body with 0xc1 inside the request array: the provider closes that connection and runs no handler', async () => {
    const raw = await open();
    // ["test.Echo", "1.0.0", "", "echo", [<0xc1>], nil]
    const body = Buffer.concat([Buffer.from([0x96]), encodeStrings('test.Echo', '1.0.0', '', 'echo'), Buffer.from([0x91, 0xc1, 0xc0])]);
    raw.send(callFrame(5, body));
    const closed = await raw.closedWithin(300);
    expect(provider.echo.received, 'the handler must not see a value decoded from 0xc1').toEqual([]);
    expect(closed, 'the provider should close a connection whose body holds the never-used byte 0xc1').toBe(true);
    await expectProviderServes();
  });

  it('a truncated MessagePack body: the provider closes that connection and keeps serving', async () => {
    const raw = await open();
    raw.send(callFrame(6, Buffer.from([0x96, 0xa9]))); // array of 6, then a string cut short
    expect(await raw.closedWithin(1000)).toBe(true);
    await expectProviderServes();
  });

  it('a call before the handshake: the provider closes that connection and keeps serving', async () => {
    const raw = await open(false);
    raw.send(callFrame(1, ECHO('too early')));
    expect(await raw.closedWithin(1000)).toBe(true);
    expect(raw.unread).toBe(0);
    expect(provider.echo.received).toEqual([]);
    await expectProviderServes();
  });

  it('a heartbeat before the handshake: the provider closes that connection', async () => {
    const raw = await open(false);
    raw.send(encodeFrame(frameFlags(FrameType.Heartbeat, true, true), 0, FrameType.Heartbeat, 1));
    expect(await raw.closedWithin(1000)).toBe(true);
    await expectProviderServes();
  });
});

/** MessagePack fixstr encodings of short strings. */
function encodeStrings(...values: string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.concat([Buffer.from([0xa0 | v.length]), Buffer.from(v)])));
}
