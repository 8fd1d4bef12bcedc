// A bare TCP peer that speaks Heartline frames by hand, to send a provider
// arbitrary bytes and read back what it answers.
import { connect, type Socket } from 'node:net';
import { codeForStatus, type ErrorCode } from '../../src/errors/codes.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, FrameType } from '../../src/protocol/constants.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { encodeFrame, frameFlags, type Frame } from '../../src/protocol/frame.js';

export const HANDSHAKE_REQUEST = encodeFrame(
  frameFlags(FrameType.Handshake, true, true),
  0,
  FrameType.Handshake,
  0,
  encodeBody({ version: 1, maxFrameSize: DEFAULT_MAX_FRAME_SIZE, heartbeat: 0 }),
);

/** A Call request frame; `body` is encoded with MessagePack unless it is already a Buffer. */
export function callFrame(id: number, body: unknown, twoWay = true): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : encodeBody(body);
  return encodeFrame(frameFlags(FrameType.Call, true, twoWay), 0, FrameType.Call, id, bytes);
}

/** A Cancel event for request `id`. */
export function cancelFrame(id: number): Buffer {
  return encodeFrame(frameFlags(FrameType.Cancel, true, false), 0, FrameType.Cancel, id);
}

/** The code of a response's status byte (undefined for status 0). */
export function statusCode(frame: Frame): ErrorCode | undefined {
  return frame.status === 0 ? undefined : codeForStatus(frame.status);
}

export class RawConnection {
  readonly socket: Socket;
  /** Frames received and not yet taken by `nextFrame()`. */
  private readonly frames: Frame[] = [];
  private readonly waiters: Array<(frame: Frame | undefined) => void> = [];
  /** Set when the bytes from the provider could not be parsed as frames. */
  protocolError: Error | undefined;
  private closedFlag = false;
  /** Resolves when the socket has closed (for whatever reason). */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder(256 * 1024 * 1024, {
      onFrame: (header, body) => this.deliver({ ...header, body: Buffer.from(body) }),
      onOversize: (header) => {
        this.protocolError = new Error(`oversized frame from provider: ${header.length}`);
      },
      onProtocolError: (err) => {
        this.protocolError = err;
      },
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => undefined); // a reset by the provider is an expected outcome here
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedFlag = true;
        for (const wake of this.waiters.splice(0)) wake(undefined);
        resolve();
      }),
    );
  }

  /** Connects to 127.0.0.1:`port` and, unless `handshake` is false, shakes hands. */
  static async open(port: number, options: { handshake?: boolean } = {}): Promise<RawConnection> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawConnection(socket);
    if (options.handshake !== false) {
      raw.send(HANDSHAKE_REQUEST);
      const answer = await raw.nextFrame();
      if (answer === undefined || answer.type !== FrameType.Handshake || answer.status !== 0) {
        raw.destroy();
        throw new Error('handshake failed');
      }
    }
    return raw;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  send(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a two-way call and returns the response frame with its decoded body. */
  async call(id: number, request: unknown[], timeoutMs = 1000): Promise<{ frame: Frame; code: ErrorCode | undefined; body: unknown }> {
    this.send(callFrame(id, request));
    const frame = await this.nextFrame(timeoutMs);
    if (frame === undefined) throw new Error(`connection closed before the response to request ${id}`);
    return { frame, code: statusCode(frame), body: frame.body.length === 0 ? undefined : decodeBody(frame.body) };
  }

  /**
   * The next frame from the provider. Resolves undefined if the socket closes
   * first; rejects when nothing arrives within `timeoutMs`.
   */
  nextFrame(timeoutMs = 1000): Promise<Frame | undefined> {
    const queued = this.frames.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closedFlag) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const waiter = (frame: Frame | undefined): void => {
        clearTimeout(timer);
        resolve(frame);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Frames received but not taken yet. */
  get unread(): number {
    return this.frames.length;
  }

  /** True if the provider closed the socket within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([this.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Half-closes our side (the provider sees end of stream). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private deliver(frame: Frame): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(frame);
    else this.frames.push(frame);
  }
}
