// Adversarial review of the writer's fragments (protocol.md 4.9): what counts
// as written when the connection is lost, end() and close() against a blocked
// socket, and no busy loop while the socket is full.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameType } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { FrameWriter } from '../../src/transport/frame-writer.js';
import { FakeSocket, tick } from '../helpers/fake-socket.js';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const body = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

function writer(fragmentSize: number, highWater = Infinity): { socket: FakeSocket; writer: FrameWriter } {
  const socket = new FakeSocket(highWater);
  const w = new FrameWriter(socket as unknown as Socket, 1 << 26);
  w.fragmentSize = fragmentSize;
  return { socket, writer: w };
}

/** Ids of the whole messages `chunks` carry, reassembled. */
function ids(chunks: Buffer[]): number[] {
  const out: number[] = [];
  const d = new FrameDecoder(1 << 24, { onFrame: (h) => out.push(h.id), onOversize: () => {}, onProtocolError: (e) => { throw e; } });
  d.enableFragments();
  for (const c of chunks) d.push(c);
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('FrameWriter: what was written, when the connection is lost', () => {
  it('a large message counts as written only once its last fragment is; whole frames written after its first fragment do', async () => {
    const { writer: w } = writer(1024);
    const a = w.write(0xc0, 0, FrameType.Call, 1, body(3000));
    const b = w.write(0xc0, 0, FrameType.Call, 2, body(3000));
    const c = w.write(0xc0, 0, FrameType.Call, 3, body(10));
    await tick(); // c whole, and a's first fragment
    expect(w.wasWritten(c)).toBe(true);
    expect(w.wasWritten(a)).toBe(false);
    expect(w.wasWritten(b)).toBe(false);
    await immediate();
    await immediate(); // a's last fragment
    expect(w.wasWritten(a)).toBe(true);
    expect(w.wasWritten(b)).toBe(false);
    await immediate(); // b's first fragment
    w.close(); // the connection is lost
    expect(w.wasWritten(a)).toBe(true);
    expect(w.wasWritten(b)).toBe(false);
    expect(w.wasWritten(c)).toBe(true);
    expect(w.wasWritten(0)).toBe(false);
  });
});

describe('FrameWriter: a blocked socket', () => {
  it('no setImmediate turns while the socket is full: the next fragment waits for drain', async () => {
    const { socket, writer: w } = writer(1024, 512);
    w.write(0xc0, 0, FrameType.Call, 1, body(64 * 1024));
    await tick();
    expect(w.isBlocked).toBe(true);
    const spy = vi.spyOn(globalThis, 'setImmediate');
    for (let i = 0; i < 20; i++) w.write(0xc0, 0, FrameType.Call, 100 + i, body(10)); // small writes while blocked
    for (let i = 0; i < 5; i++) await tick();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(spy.mock.calls.filter((call) => call[0] !== undefined && (call[0] as { name?: string }).name === 'fragmentTick')).toHaveLength(0);
    expect(socket.writes).toHaveLength(1);
  });

  it('close() while the next fragment is scheduled: nothing more is written', async () => {
    const { socket, writer: w } = writer(1024);
    w.write(0xc0, 0, FrameType.Call, 1, body(5000));
    await tick();
    expect(socket.writes).toHaveLength(1);
    w.close();
    for (let i = 0; i < 5; i++) await immediate();
    expect(socket.writes).toHaveLength(1);
    expect(w.pendingBytes).toBe(socket.writableLength);
  });

  it("a 'drain' after close(), and after end() finished: nothing more is written, no fragment turn scheduled", async () => {
    const { socket, writer: w } = writer(1024, 512);
    w.write(0xc0, 0, FrameType.Call, 1, body(5000));
    await tick();
    expect(w.isBlocked).toBe(true);
    w.close();
    socket.drainAll();
    for (let i = 0; i < 3; i++) await immediate();
    expect(socket.writes).toHaveLength(1);
    const second = writer(1024);
    second.writer.write(0xc0, 0, FrameType.Call, 1, body(2000));
    let ended = 0;
    second.writer.end(() => ended++);
    for (let i = 0; i < 3; i++) await immediate();
    expect(ended).toBe(1);
    const writes = second.socket.writes.length;
    second.socket.drainAll();
    for (let i = 0; i < 3; i++) await immediate();
    expect(second.socket.writes).toHaveLength(writes);
    expect(ended).toBe(1);
  });

  it('end() while the socket is full writes the whole frames queued (as it does a large message) once it drains, then calls back', async () => {
    const { socket, writer: w } = writer(1024, 16);
    w.write(0xc0, 0, FrameType.Call, 1, body(100));
    await tick();
    expect(w.isBlocked).toBe(true);
    w.write(0x80, 0, FrameType.Call, 2, body(10)); // a one-way call queued behind the full socket
    w.write(0xa0, 0, FrameType.Release, 7);
    let ended = 0;
    w.end(() => ended++);
    expect(ended).toBe(0);
    // Refused as closed, not as over the bound (a caller would report LIMIT_EXCEEDED).
    expect(w.write(0x80, 0, FrameType.Call, 3, body(1))).toBe(0);
    expect(w.isClosed).toBe(true);
    socket.drainAll();
    await immediate();
    expect(ids(socket.writes)).toEqual([1, 2, 7]);
    expect(ended).toBe(1);
  });
});
