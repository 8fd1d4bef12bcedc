// The writer's fragments (protocol.md 4.9): a body over fragmentSize goes out
// one fragment per flush, interleaved with whole frames, large messages one
// after another, a Cancel held back behind its request, and onFlush counting a
// large message only once its last fragment is written.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FLAG_MORE, FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';
import type { FrameHeader } from '../../src/protocol/frame.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { FrameWriter } from '../../src/transport/frame-writer.js';
import { FakeSocket, tick } from '../helpers/fake-socket.js';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The frames of `chunks` as written (fragments not reassembled): [id, MORE, length] per frame, per write. */
function framesPerWrite(chunks: Buffer[]): Array<Array<[number, boolean, number, FrameType]>> {
  return chunks.map((c) => {
    const out: Array<[number, boolean, number, FrameType]> = [];
    for (let at = 0; at < c.length; ) {
      const length = c.readUInt32BE(at + 12);
      out.push([c.readUInt32BE(at + 8), (c[at + 3]! & FLAG_MORE) !== 0, length, c[at + 5]! as FrameType]);
      at += HEADER_SIZE + length;
    }
    return out;
  });
}

/** The messages `chunks` carry, reassembled by a decoder with fragments on. */
function messages(chunks: Buffer[]): Array<{ header: FrameHeader; body: Buffer }> {
  const out: Array<{ header: FrameHeader; body: Buffer }> = [];
  const d = new FrameDecoder(1 << 24, { onFrame: (header, body) => out.push({ header, body: Buffer.from(body) }), onOversize: () => {}, onProtocolError: (e) => { throw e; } });
  d.enableFragments();
  for (const c of chunks) d.push(c);
  return out;
}

function writer(fragmentSize: number, highWater = Infinity): { socket: FakeSocket; writer: FrameWriter; flushed: number[] } {
  const socket = new FakeSocket(highWater);
  const w = new FrameWriter(socket as unknown as Socket, 1 << 26);
  w.fragmentSize = fragmentSize;
  const flushed: number[] = [];
  w.onFlush = (seq) => flushed.push(seq);
  return { socket, writer: w, flushed };
}

const body = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

describe('FrameWriter fragments', () => {
  it('a body over fragmentSize goes out one fragment per flush; whole frames queued meanwhile go with the next fragment', async () => {
    const { socket, writer: w } = writer(1024);
    const big = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
    w.write(0xc0, 0, FrameType.Call, 1, big);
    w.write(0xc0, 0, FrameType.Call, 2, body(10));
    await tick();
    expect(framesPerWrite(socket.writes)).toEqual([[[2, false, 10, 0], [1, true, 1024, 0]]]);
    w.write(0x00, 0, FrameType.Call, 3, body(5));
    await tick();
    expect(framesPerWrite(socket.writes).at(-1)).toEqual([[3, false, 5, 0], [1, true, 1024, 0]]);
    await immediate();
    expect(framesPerWrite(socket.writes).at(-1)).toEqual([[1, false, 952, 0]]);
    await immediate();
    expect(socket.writes).toHaveLength(3);
    expect(messages(socket.writes).map((m) => m.header.id)).toEqual([2, 3, 1]);
    expect(messages(socket.writes).at(-1)!.body.equals(big)).toBe(true);
  });

  it('bodies of at most fragmentSize, and every body with fragmentSize 0, go whole', async () => {
    for (const [size, n] of [[1024, 1024], [0, 100_000]] as const) {
      const { socket, writer: w } = writer(size);
      w.write(0xc0, 0, FrameType.Call, 1, body(n));
      await tick();
      expect(framesPerWrite(socket.writes)).toEqual([[[1, false, n, 0]]]);
    }
  });

  it('only Call bodies are fragmented', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0xa0, 0, FrameType.Drain, 0, body(2000));
    await tick();
    expect(framesPerWrite(socket.writes)).toEqual([[[0, false, 2000, FrameType.Drain]]]);
  });

  it('large messages go one after another (FIFO), each whole before the next starts', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0x00, 0, FrameType.Call, 1, body(2048, 1));
    w.write(0x00, 0, FrameType.Call, 2, body(2048, 2));
    for (let i = 0; i < 6; i++) await immediate();
    const order = framesPerWrite(socket.writes).flat().map(([id, more]) => [id, more]);
    expect(order).toEqual([[1, true], [1, false], [2, true], [2, false]]);
  });

  it('onFlush counts a large message only once its last fragment is written, and whole frames after it only then', async () => {
    const { writer: w, flushed } = writer(1024);
    const a = w.write(0xc0, 0, FrameType.Call, 1, body(1)); // seq 1
    const big = w.write(0xc0, 0, FrameType.Call, 2, body(2500)); // seq 2, three fragments
    const c = w.write(0xc0, 0, FrameType.Call, 3, body(1)); // seq 3
    await tick();
    expect(flushed).toEqual([a]);
    await immediate();
    expect(flushed).toEqual([a, a]);
    await immediate();
    expect(flushed).toEqual([a, a, c]);
    expect(big).toBeLessThan(c);
    // flushedSeq (read at connection loss) is never below a frame that was written.
    expect(w.flushedSeq).toBe(c);
  });

  it('waits for drain between fragments when the socket is full', async () => {
    const { socket, writer: w } = writer(1024, 512);
    w.write(0xc0, 0, FrameType.Call, 1, body(3000));
    await tick();
    await immediate();
    await immediate();
    expect(socket.writes).toHaveLength(1);
    expect(w.isBlocked).toBe(true);
    socket.drainAll();
    // Not in the same turn as 'drain' (which may follow the write at once): in the next one.
    expect(socket.writes).toHaveLength(1);
    await immediate();
    expect(socket.writes).toHaveLength(2);
    socket.drainAll();
    await immediate();
    socket.drainAll();
    await immediate();
    expect(messages(socket.writes)).toHaveLength(1);
    expect(w.pendingBytes).toBe(0);
  });

  it('a Cancel for a request being sent follows its last fragment; one for a request not started drops it', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0xc0, 0, FrameType.Call, 1, body(2500));
    w.write(0xc0, 0, FrameType.Call, 2, body(2500));
    await tick(); // first fragment of 1 written
    expect(w.write(0xa0, 0, FrameType.Cancel, 1)).toBeGreaterThan(0);
    expect(w.write(0xa0, 0, FrameType.Cancel, 2)).toBeGreaterThan(0); // 2 not started: dropped with its Cancel
    expect(w.write(0xa0, 0, FrameType.Cancel, 77)).toBeGreaterThan(0); // not a large request: goes at once
    for (let i = 0; i < 6; i++) await immediate();
    const frames = framesPerWrite(socket.writes).flat().map(([id, more, , type]) => [id, more, type]);
    expect(frames).toEqual([
      [1, true, FrameType.Call],
      [77, false, FrameType.Cancel],
      [1, true, FrameType.Call],
      [1, false, FrameType.Call],
      [1, false, FrameType.Cancel],
    ]);
    expect(w.pendingBytes - socket.writableLength).toBe(0);
  });

  it('a Release waits for every large message queued before it', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0xc0, 0, FrameType.Call, 1, body(2000));
    w.write(0xa0, 0, FrameType.Release, 5);
    w.write(0xc0, 0, FrameType.Call, 2, body(10));
    for (let i = 0; i < 4; i++) await immediate();
    const frames = framesPerWrite(socket.writes).flat().map(([id, more, , type]) => [id, more, type]);
    expect(frames).toEqual([
      [2, false, FrameType.Call],
      [1, true, FrameType.Call],
      [1, false, FrameType.Call],
      [5, false, FrameType.Release],
    ]);
  });

  it('a Release held behind a request that is then cancelled before it started still goes out', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0xc0, 0, FrameType.Call, 1, body(2000));
    w.write(0xc0, 0, FrameType.Call, 2, body(2000));
    w.write(0xa0, 0, FrameType.Release, 5); // behind 2
    w.write(0xa0, 0, FrameType.Cancel, 2); // 2 not started: dropped; the Release now follows 1
    const solo = writer(1024);
    solo.writer.write(0xc0, 0, FrameType.Call, 3, body(2000));
    solo.writer.write(0xa0, 0, FrameType.Release, 6);
    solo.writer.write(0xa0, 0, FrameType.Cancel, 3); // nothing before it: the Release goes now
    for (let i = 0; i < 4; i++) await immediate();
    const frames = framesPerWrite(socket.writes).flat().map(([id, more, , type]) => [id, more, type]);
    expect(frames).toEqual([
      [1, true, FrameType.Call],
      [1, false, FrameType.Call],
      [5, false, FrameType.Release],
    ]);
    expect(framesPerWrite(solo.socket.writes).flat().map(([id, , , type]) => [id, type])).toEqual([[6, FrameType.Release]]);
    expect(w.pendingBytes - socket.writableLength).toBe(0);
    expect(solo.writer.pendingBytes - solo.socket.writableLength).toBe(0);
  });

  it('end() sends large messages to their last fragment before it calls back; close() drops them', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0xc0, 0, FrameType.Call, 1, body(3000));
    let ended = 0;
    w.end(() => ended++);
    expect(w.write(0xc0, 0, FrameType.Call, 2, body(1))).toBe(0);
    for (let i = 0; i < 4; i++) await immediate();
    expect(ended).toBe(1);
    expect(messages(socket.writes).map((m) => m.body.length)).toEqual([3000]);
    const second = writer(1024);
    second.writer.write(0xc0, 0, FrameType.Call, 1, body(3000));
    second.writer.close();
    for (let i = 0; i < 3; i++) await immediate();
    expect(second.socket.writes).toHaveLength(0);
    expect(second.writer.pendingBytes).toBe(0);
  });

  it('the bound on bytes waiting counts large messages', async () => {
    const socket = new FakeSocket();
    const w = new FrameWriter(socket as unknown as Socket, 10_000);
    w.fragmentSize = 1024;
    expect(w.write(0xc0, 0, FrameType.Call, 1, body(8000))).toBeGreaterThan(0);
    expect(w.write(0xc0, 0, FrameType.Call, 2, body(3000))).toBe(0);
    expect(w.pendingBytes).toBe(8000);
  });
});
