import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { FrameWriter } from '../../src/transport/frame-writer.js';
import { FakeSocket, tick } from '../helpers/fake-socket.js';


function frameIds(chunks: Buffer[]): number[] {
  const ids: number[] = [];
  const d = new FrameDecoder(1 << 20, { onFrame: (h) => ids.push(h.id), onOversize: () => {}, onProtocolError: (e) => { throw e; } });
  for (const c of chunks) d.push(c);
  return ids;
}

describe('FrameWriter', () => {
  it('gathers the frames of one tick into one write', async () => {
    const socket = new FakeSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    for (let id = 1; id <= 100; id++) writer.write(0xc0, 0, FrameType.Call, id, Buffer.from([0xc0]));
    expect(socket.writes).toHaveLength(0);
    await tick();
    expect(socket.writes).toHaveLength(1);
    expect(socket.writes[0]!.length).toBe(100 * (HEADER_SIZE + 1));
    expect(frameIds(socket.writes)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('waits for drain when the socket is full, then sends what queued meanwhile', async () => {
    const socket = new FakeSocket(10);
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    const first = writer.write(0xc0, 0, FrameType.Call, 1, Buffer.alloc(8));
    await tick();
    expect(writer.isBlocked).toBe(true);
    expect(writer.flushedSeq).toBe(first);
    const second = writer.write(0xc0, 0, FrameType.Call, 2, Buffer.alloc(8));
    await tick();
    expect(socket.writes).toHaveLength(1);
    expect(writer.flushedSeq).toBeLessThan(second);
    socket.drainAll();
    expect(socket.writes).toHaveLength(2);
    expect(writer.flushedSeq).toBe(second);
    expect(frameIds(socket.writes)).toEqual([1, 2]);
  });

  it('bounds the bytes waiting and refuses frames past the bound', async () => {
    const socket = new FakeSocket(1);
    const writer = new FrameWriter(socket as unknown as Socket, 1000);
    expect(writer.write(0xc0, 0, FrameType.Call, 1, Buffer.alloc(500))).toBeGreaterThan(0);
    await tick();
    expect(writer.write(0xc0, 0, FrameType.Call, 2, Buffer.alloc(400))).toBeGreaterThan(0);
    expect(writer.write(0xc0, 0, FrameType.Call, 3, Buffer.alloc(400))).toBe(0);
    expect(writer.pendingBytes).toBeLessThanOrEqual(1000);
  });

  it('refuses writes after close', () => {
    const socket = new FakeSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 1000);
    writer.close();
    expect(writer.write(0xc0, 0, FrameType.Call, 1)).toBe(0);
  });
});
