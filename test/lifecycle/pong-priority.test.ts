// Pongs jump the queue (protocol.md 4.4): a peer measuring liveness must not
// wait behind a backlog of responses.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { FrameWriter } from '../../src/transport/frame-writer.js';
import { FakeSocket, tick } from '../helpers/fake-socket.js';
import { callFrame, RawConnection } from '../helpers/raw-socket.js';
import { startServer, useCleanup } from '../helpers/server.js';


function frames(chunks: Buffer[]): Array<{ type: number; id: number }> {
  const out: Array<{ type: number; id: number }> = [];
  const d = new FrameDecoder(1 << 20, { onFrame: (h) => out.push({ type: h.type, id: h.id }), onOversize: () => {}, onProtocolError: (e) => { throw e; } });
  for (const c of chunks) d.push(c);
  return out;
}

const PONG = frameFlags(FrameType.Heartbeat, false, false);
const RESPONSE = frameFlags(FrameType.Call, false, false);

describe('pong priority', () => {
  const defer = useCleanup();

  it('FrameWriter.writeUrgent puts a pong ahead of the frames queued in the same tick', async () => {
    const socket = new FakeSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    writer.write(RESPONSE, 0, FrameType.Call, 1, Buffer.from([0xc0]));
    writer.write(RESPONSE, 0, FrameType.Call, 2, Buffer.from([0xc0]));
    writer.writeUrgent(PONG, FrameType.Heartbeat, 9);
    await tick();
    expect(frames(socket.writes)).toEqual([
      { type: FrameType.Heartbeat, id: 9 },
      { type: FrameType.Call, id: 1 },
      { type: FrameType.Call, id: 2 },
    ]);
  });

  it('FrameWriter.writeUrgent goes ahead of a backlog waiting for drain', async () => {
    const socket = new FakeSocket(10);
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    writer.write(RESPONSE, 0, FrameType.Call, 1, Buffer.alloc(8));
    await tick();
    expect(writer.isBlocked).toBe(true);
    writer.write(RESPONSE, 0, FrameType.Call, 2, Buffer.alloc(8));
    writer.write(RESPONSE, 0, FrameType.Call, 3, Buffer.alloc(8));
    const seq = writer.writeUrgent(PONG, FrameType.Heartbeat, 7);
    await tick();
    expect(socket.writes).toHaveLength(1);
    socket.drainAll();
    expect(frames(socket.writes.slice(1)).map((f) => f.id)).toEqual([7, 2, 3]);
    expect(writer.flushedSeq).toBeGreaterThanOrEqual(seq);
  });

  it('the provider answers a ping before responses it produced from the same read', async () => {
    const srv = defer(await startServer(), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    // `fail` throws synchronously: its error responses are queued while the chunk is decoded.
    const fail = (id: number): Buffer => callFrame(id, ['test.Echo', '1.0.0', '', 'fail', [`boom ${id}`], null]);
    const ping = encodeFrame(frameFlags(FrameType.Heartbeat, true, true), 0, FrameType.Heartbeat, 99);
    raw.send(Buffer.concat([fail(1), fail(2), fail(3), ping]));
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await raw.nextFrame());
    expect(got.map((f) => [f!.type, f!.id])).toEqual([
      [FrameType.Heartbeat, 99],
      [FrameType.Call, 1],
      [FrameType.Call, 2],
      [FrameType.Call, 3],
    ]);
  });
});
