// A scripted provider: it answers the handshake like a real one and hands every
// later frame to the test, which writes whatever bytes it likes back. For
// testing how a consumer copes with a misbehaving provider.
import { createServer, type Server, type Socket } from 'node:net';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { encodeFrame, frameFlags, type Frame } from '../../src/protocol/frame.js';

export interface FakeRequest {
  frame: Frame;
  /** The decoded body of a Call request: `[service, version, group, method, args, attachments, budget?]` (six items on version 1). */
  request: unknown[] | undefined;
  socket: Socket;
}

/** An error map body, as a provider sends it (protocol.md 4.2). */
export function errorMap(code: string, message: string): Buffer {
  return encodeBody({ code, message });
}

/** A handshake response frame. */
export function handshakeResponse(id: number, status: number, body: Buffer): Buffer {
  return encodeFrame(frameFlags(FrameType.Handshake, false, false), status, FrameType.Handshake, id, body);
}

/** A response frame to a call. */
export function responseFrame(id: number, status: number, body: Buffer | undefined): Buffer {
  return encodeFrame(frameFlags(FrameType.Call, false, false), status, FrameType.Call, id, body);
}

export interface FakeProviderOptions {
  /** `maxFrameSize` announced in the handshake response. Default 8 MiB. */
  maxFrameSize?: number;
  /** Protocol version of the handshake answer. Default 1 (six-item requests); 2 carries the budget item. */
  version?: number;
  /** `heartbeat` announced in the handshake response, in ms. Default 0 (none). */
  heartbeat?: number;
  /** Answer the consumer's pings with pongs, as a live provider does. Default false (pings go unanswered). */
  answerPings?: boolean;
  /** The id each pong carries, from its ping's id (with `answerPings`). Default: the ping's own. */
  pongId?: (pingId: number) => number;
  /** Replaces the normal handshake answer: write any bytes (or nothing) to `socket`. */
  onHandshake?: (frame: Frame, socket: Socket) => void;
}

export class FakeProvider {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Cancel frames received, by request id. */
  readonly cancelled: number[] = [];
  /** Ids of the pongs received (answers to pings the test wrote). */
  readonly pongs: number[] = [];

  private constructor(onCall: (call: FakeRequest) => void, options: FakeProviderOptions) {
    const maxFrameSize = options.maxFrameSize ?? 8 * 1024 * 1024;
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const decoder = new FrameDecoder(64 * 1024 * 1024, {
        onFrame: (header, body) => {
          const frame: Frame = { ...header, body: Buffer.from(body) };
          if (header.type === FrameType.Handshake && options.onHandshake !== undefined) {
            options.onHandshake(frame, socket);
          } else if (header.type === FrameType.Handshake) {
            socket.write(handshakeResponse(header.id, 0, encodeBody({ version: options.version ?? 1, maxFrameSize, heartbeat: options.heartbeat ?? 0, idleTimeout: 0 })));
          } else if (header.type === FrameType.Call) {
            onCall({ frame, request: decodeBody(frame.body) as unknown[], socket });
          } else if (header.type === FrameType.Cancel) {
            this.cancelled.push(header.id);
          } else if (header.type === FrameType.Heartbeat && (header.flags & 0x80) === 0) {
            this.pongs.push(header.id);
          } else if (header.type === FrameType.Heartbeat && options.answerPings === true) {
            socket.write(encodeFrame(frameFlags(FrameType.Heartbeat, false, false), 0, FrameType.Heartbeat, options.pongId?.(header.id) ?? header.id));
          }
        },
        onOversize: () => socket.destroy(),
        onProtocolError: () => socket.destroy(),
      });
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    });
  }

  static async start(onCall: (call: FakeRequest) => void, options: FakeProviderOptions = {}): Promise<FakeProvider> {
    const fake = new FakeProvider(onCall, options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
