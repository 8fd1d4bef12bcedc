// FrameWriter.onFlush: the owner learns when frames reach the socket (one-way calls settle on it).
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { FrameWriter } from '../../src/transport/frame-writer.js';
import { FakeSocket, tick } from '../helpers/fake-socket.js';

describe('FrameWriter.onFlush', () => {
  it('reports each flush with the last sequence number handed to the socket, never while blocked', async () => {
    const socket = new FakeSocket(10);
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    const flushed: number[] = [];
    writer.onFlush = (seq) => flushed.push(seq);

    const first = writer.write(0xc0, 0, FrameType.Call, 1, Buffer.alloc(8));
    expect(flushed).toEqual([]); // queued, not written
    await tick();
    expect(flushed).toEqual([first]);
    expect(writer.isBlocked).toBe(true);

    const second = writer.write(0x80, 0, FrameType.Call, 2, Buffer.alloc(8));
    const third = writer.write(0x80, 0, FrameType.Call, 3, Buffer.alloc(8));
    await tick();
    expect(flushed).toEqual([first]); // the socket is full: still queued
    socket.drainAll();
    expect(flushed).toEqual([first, third]);
    expect(second).toBeLessThan(third);
  });

  it('is not called for frames dropped by close()', async () => {
    const socket = new FakeSocket();
    const writer = new FrameWriter(socket as unknown as Socket, 1 << 20);
    const flushed: number[] = [];
    writer.onFlush = (seq) => flushed.push(seq);
    writer.write(0x80, 0, FrameType.Call, 1, Buffer.alloc(8));
    writer.close();
    await tick();
    expect(flushed).toEqual([]);
    expect(socket.writes).toEqual([]);
  });
});
