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

  it('a smaller batch after a larger one writes only its own frames, and the queue keeps no body once flushed', async () => {
    const socket = new FakeSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    for (let id = 1; id <= 5; id++) writer.write(0xc0, 0, FrameType.Call, id, Buffer.from([0xc0]));
    await tick();
    writer.write(0xc0, 0, FrameType.Call, 6, Buffer.from([0xc1, 0xc2]));
    writer.write(0x00, 0, FrameType.Call, 7);
    await tick();
    expect(socket.writes).toHaveLength(2);
    expect(socket.writes[1]!.length).toBe(2 * HEADER_SIZE + 2);
    expect(frameIds([socket.writes[1]!])).toEqual([6, 7]);
    const queue = (writer as unknown as { data: unknown[] }).data;
    expect(queue.filter((x) => Buffer.isBuffer(x))).toEqual([]);
    // A burst past what a flush keeps (1024 frames) is let go.
    for (let id = 1; id <= 2000; id++) writer.write(0xc0, 0, FrameType.Call, id, Buffer.from([0xc0]));
    await tick();
    expect(frameIds([socket.writes[2]!])).toHaveLength(2000);
    expect((writer as unknown as { data: unknown[] }).data.length).toBe(0);
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

  it('flushes control frames (pongs) first, each queue in its own order', async () => {
    const socket = new FakeSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    writer.write(0x00, 0, FrameType.Call, 1, Buffer.from([0xc0]));
    writer.writeUrgent(0x20, FrameType.Heartbeat, 101);
    writer.write(0x00, 0, FrameType.Call, 2, Buffer.from([0xc0]));
    writer.writeUrgent(0x20, FrameType.Heartbeat, 102);
    writer.write(0x00, 0, FrameType.Call, 3);
    await tick();
    expect(socket.writes).toHaveLength(1);
    expect(frameIds(socket.writes)).toEqual([101, 102, 1, 2, 3]);
    expect(socket.writes[0]!.length).toBe(5 * HEADER_SIZE + 2);
  });

  it('counts control frames against the bound: data fills it, a pong is refused', async () => {
    const socket = new FakeSocket(1); // every write leaves the socket blocked
    const writer = new FrameWriter(socket as unknown as Socket, 1000);
    expect(writer.write(0xc0, 0, FrameType.Call, 1, Buffer.alloc(900))).toBeGreaterThan(0);
    await tick();
    expect(writer.isBlocked).toBe(true);
    expect(writer.writeUrgent(0x20, FrameType.Heartbeat, 1)).toBeGreaterThan(0); // 916 + 16 <= 1000
    expect(writer.write(0xc0, 0, FrameType.Call, 2, Buffer.alloc(60))).toBe(0); // 932 + 76 > 1000
    let refused = 0;
    for (let id = 2; id < 100; id++) if (writer.writeUrgent(0x20, FrameType.Heartbeat, id) === 0) refused++;
    expect(refused).toBeGreaterThan(90);
    expect(writer.pendingBytes).toBeLessThanOrEqual(1000);
  });

  it('counts control frames against the bound: pongs fill it, data is refused', async () => {
    const socket = new FakeSocket(1);
    const writer = new FrameWriter(socket as unknown as Socket, 1000);
    writer.writeUrgent(0x20, FrameType.Heartbeat, 1);
    await tick();
    expect(writer.isBlocked).toBe(true); // 16 bytes in the socket
    let accepted = 0;
    while (accepted < 1000 && writer.writeUrgent(0x20, FrameType.Heartbeat, accepted + 2) > 0) accepted++;
    expect(accepted).toBe(Math.floor((1000 - HEADER_SIZE) / HEADER_SIZE));
    expect(writer.pendingBytes).toBeLessThanOrEqual(1000);
    expect(writer.write(0xc0, 0, FrameType.Call, 9)).toBe(0);
    // Once the socket drains, what was accepted goes out, pongs in order.
    socket.drainAll();
    expect(frameIds(socket.writes.slice(1))).toEqual(Array.from({ length: accepted }, (_, i) => i + 2));
  });

  it('refuses control frames after close', () => {
    const writer = new FrameWriter(new FakeSocket() as unknown as Socket, 1000);
    writer.close();
    expect(writer.writeUrgent(0x20, FrameType.Heartbeat, 1)).toBe(0);
  });

  it('100k control frames behind a data backlog cost O(n) in total (no unshift)', async () => {
    const socket = new FakeSocket(1);
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 30);
    writer.write(0xc0, 0, FrameType.Call, 1, Buffer.alloc(8));
    await tick(); // blocked from now on: everything below waits in the queues
    const N = 100_000;
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      writer.write(0x00, 0, FrameType.Call, i + 2, Buffer.alloc(1));
      writer.writeUrgent(0x20, FrameType.Heartbeat, i + 1);
    }
    const took = performance.now() - started;
    // Linear work is a few ms here; an unshift per pong (O(n) each) takes tens of seconds.
    expect(took).toBeLessThan(1000);
    socket.drainAll();
    const ids = frameIds(socket.writes.slice(1));
    expect(ids).toHaveLength(2 * N);
    expect(ids.slice(0, 3)).toEqual([1, 2, 3]); // pongs first
    expect(ids[N]).toBe(2); // then the data, in order
  });
});
