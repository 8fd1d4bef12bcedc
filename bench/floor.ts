// The floor: the least any msgpack-over-one-TCP-connection RPC can cost.
// Frame = 4-byte big-endian length + msgpackr body; body = [id, payload].
import net from 'node:net';
import { once } from 'node:events';
import { Packr } from 'msgpackr';
import type { EchoClient, EchoServer, EchoSystem } from './system.js';
import type { Payload } from './workload.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * Splits a byte stream into frame bodies. Whole frames are views into the
 * chunk; only a frame straddling chunks is copied, and only its own bytes.
 */
export class FrameReader {
  private parts: Buffer[] = [];
  private buffered = 0; // bytes of the straddling frame held in `parts`
  private need = 0; // its total size (header included), known once buffered >= 4

  constructor(private readonly onFrame: (body: Buffer) => void) {}

  push(chunk: Buffer): void {
    let off = 0;
    if (this.buffered > 0) {
      if (this.buffered < 4) {
        off = this.take(chunk, 0, 4 - this.buffered);
        if (this.buffered < 4) return;
        const head = Buffer.concat(this.parts, 4);
        this.parts = [head];
        this.need = 4 + head.readUInt32BE(0);
      }
      off = this.take(chunk, off, this.need - this.buffered);
      if (this.buffered < this.need) return;
      const frame = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.need);
      this.parts = [];
      this.buffered = 0;
      this.onFrame(frame.subarray(4));
    }
    const end = chunk.length;
    while (end - off >= 4) {
      const stop = off + 4 + chunk.readUInt32BE(off);
      if (stop > end) break;
      this.onFrame(chunk.subarray(off + 4, stop));
      off = stop;
    }
    if (off < end) {
      this.parts.push(chunk.subarray(off));
      this.buffered = end - off;
      if (this.buffered >= 4) this.need = 4 + chunk.readUInt32BE(off);
    }
  }

  /** Appends up to `max` bytes of `chunk` from `off`; returns the new offset. */
  private take(chunk: Buffer, off: number, max: number): number {
    const n = Math.min(max, chunk.length - off);
    if (n > 0) {
      this.parts.push(chunk.subarray(off, off + n));
      this.buffered += n;
    }
    return off + n;
  }
}

/** Coalesces every frame sent within one tick into a single socket.write. */
class FrameWriter {
  private queue: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly socket: net.Socket) {}

  send(body: Buffer): void {
    this.queue.push(body);
    this.bytes += 4 + body.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    const out = Buffer.allocUnsafe(this.bytes);
    let off = 0;
    for (const body of this.queue) {
      out.writeUInt32BE(body.length, off);
      body.copy(out, off + 4);
      off += 4 + body.length;
    }
    this.queue = [];
    this.bytes = 0;
    this.scheduled = false;
    if (!this.socket.destroyed) this.socket.write(out);
  };
}

async function serve(): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const writer = new FrameWriter(socket);
    const reader = new FrameReader((body) => {
      const [id, payload] = packr.unpack(body) as [number, Payload];
      writer.send(packr.pack([id, payload]));
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Pending {
  resolve(value: never): void;
  reject(err: Error): void;
}

class FloorClient implements EchoClient {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly writer: FrameWriter;

  constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    this.writer = new FrameWriter(socket);
    const reader = new FrameReader((body) => {
      const [id, payload] = packr.unpack(body) as [number, never];
      const p = this.pending.get(id);
      if (p) {
        this.pending.delete(id);
        p.resolve(payload);
      }
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('connection closed')));
  }

  echo(payload: Payload): Promise<Payload> {
    return this.call(payload);
  }

  /** The server echoes any body; a Buffer travels as msgpack bin and comes back a Buffer. */
  bulk(body: Buffer): Promise<Buffer> {
    return this.call(body);
  }

  private call<T>(payload: T): Promise<T> {
    const id = (this.nextId = (this.nextId + 1) & 0x7fffffff);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: never) => void, reject });
      this.writer.send(packr.pack([id, payload]));
    });
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = once(this.socket, 'close');
    this.socket.end();
    await closed;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

async function connect([port]: number[]): Promise<EchoClient> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return new FloorClient(socket);
}

export const system: EchoSystem = { serve, connect };
