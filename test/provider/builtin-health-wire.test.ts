// heartline.Health#watch as protocol.md 10.2 specifies it on the wire, seen by
// a consumer that speaks frames by hand: the pushes it gets, in which order,
// and when the provider stops pushing.
import { describe, expect, it } from 'vitest';
import { decodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags, isRequest } from '../../src/protocol/frame.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { startServer, useCleanup, waitFor } from '../helpers/server.js';

const WATCH = (service: string, callbackId: number): unknown[] => ['heartline.Health', '', '', 'watch', [service, callbackId], null];

/** The consumer's answer to push `id` (an OK response with no body). */
const answer = (id: number): Buffer => encodeFrame(frameFlags(FrameType.Call, false, false), 0, FrameType.Call, id);

describe('heartline.Health#watch on the wire', () => {
  const defer = useCleanup();

  async function setup(options: Parameters<typeof startServer>[0] = {}) {
    const srv = defer(await startServer(options), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    return { server: srv.server, raw };
  }

  it('close(): the NOT_SERVING push comes before the Drain frame', async () => {
    const { server, raw } = await setup();
    expect((await raw.call(1, WATCH('test.Echo', 7))).body).toBe('SERVING');
    const closed = server.close();
    const push = (await raw.nextFrame())!;
    expect(push.type).toBe(FrameType.Call);
    expect(isRequest(push.flags)).toBe(true);
    expect(decodeBody(push.body)).toEqual([7, ['NOT_SERVING']]);
    raw.send(answer(push.id));
    expect((await raw.nextFrame())!.type).toBe(FrameType.Drain);
    raw.end();
    await closed;
  });

  it('one push in flight per watch: nothing more until it is answered, then the current status', async () => {
    const { server, raw } = await setup();
    await raw.call(1, WATCH('', 3));
    server.setServingStatus('', 'NOT_SERVING');
    const first = (await raw.nextFrame())!;
    expect(decodeBody(first.body)).toEqual([3, ['NOT_SERVING']]);
    for (let i = 0; i < 10; i++) server.setServingStatus('', i % 2 === 0 ? 'SERVING' : 'NOT_SERVING');
    server.setServingStatus('', 'SERVING');
    await expect(raw.nextFrame(100)).rejects.toThrow(/no frame/);
    raw.send(answer(first.id));
    const second = (await raw.nextFrame())!;
    expect(decodeBody(second.body)).toEqual([3, ['SERVING']]);
    raw.send(answer(second.id));
    await expect(raw.nextFrame(100)).rejects.toThrow(/no frame/);
    expect(server.healthWatchCount).toBe(1);
  });

  it('a Release frame ends the watch: no push follows', async () => {
    const { server, raw } = await setup();
    await raw.call(1, WATCH('', 9));
    raw.send(encodeFrame(frameFlags(FrameType.Release, true, false), 0, FrameType.Release, 9));
    await waitFor(() => server.healthWatchCount === 0, 2000, 'the watch to end');
    server.setServingStatus('', 'NOT_SERVING');
    await expect(raw.nextFrame(100)).rejects.toThrow(/no frame/);
  });

  it('a push not answered within callbackTimeout ends the watch', async () => {
    const { server, raw } = await setup({ callbackTimeout: 100 });
    await raw.call(1, WATCH('', 4));
    server.setServingStatus('', 'NOT_SERVING');
    expect(decodeBody((await raw.nextFrame())!.body)).toEqual([4, ['NOT_SERVING']]);
    await waitFor(() => server.healthWatchCount === 0, 2000, 'the watch to end'); // never answered
    server.setServingStatus('', 'SERVING');
    await expect(raw.nextFrame(150)).rejects.toThrow(/no frame/);
  });

  it('a watch whose callback position is not a callback id is answered BAD_REQUEST', async () => {
    const { server, raw } = await setup();
    const reply = await raw.call(1, ['heartline.Health', '', '', 'watch', ['', 'not-an-id'], null]);
    expect(reply.code).toBe('BAD_REQUEST');
    expect(server.healthWatchCount).toBe(0);
  });
});
