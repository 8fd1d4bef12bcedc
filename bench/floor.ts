// The floor: the least any msgpack-over-one-TCP-connection RPC can cost.
// Frame = 4-byte big-endian length + msgpackr body; body = [id, payload].
import net from 'node:net';
import { once } from 'node:events';
import { Packr } from 'msgpackr';
import type { EchoClient, EchoServer, EchoSystem } from './system.js';
import type { Payload } from './workload.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Splits a byte stream into frame bodies, joining partial chunks only once complete. */
class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = 0;

  constructor(private readonly onFrame: (body: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.need) return; // still incomplete: don't copy yet
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    }
    const end = buf.length;
    let off = 0;
    while (end - off >= 4) {
      const stop = off + 4 + buf.readUInt32BE(off);
      if (stop > end) break;
      this.onFrame(buf.subarray(off + 4, stop));
      off = stop;
    }
    if (off < end) {
      const rest = off === 0 ? buf : buf.subarray(off);
      this.chunks.push(rest);
      this.buffered = rest.length;
      this.need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 4;
    }
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
  resolve(value: Payload): void;
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
      const [id, payload] = packr.unpack(body) as [number, Payload];
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
    const id = (this.nextId = (this.nextId + 1) & 0x7fffffff);
    return new Promise<Payload>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
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

async function connect(port: number): Promise<EchoClient> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return new FloorClient(socket);
}

export const system: EchoSystem = { serve, connect };
