import type { Socket } from 'node:net';
import { HeartlineError } from '../errors/heartline-error.js';
import type { FrameType } from '../protocol/constants.js';
import type { FrameHeader } from '../protocol/frame.js';
import { FrameDecoder, type FrameSink } from '../protocol/frame-decoder.js';
import { now } from './clock.js';
import { FrameWriter } from './frame-writer.js';
import type { Logger } from './logger.js';

/** What a transport tells the layer above it. */
export interface TransportHandler {
  onFrame(header: FrameHeader, body: Buffer): void;
  /** A frame over the size limit arrived; its body is being skipped. */
  onOversize(header: FrameHeader): void;
  /** The socket is gone. Called exactly once; `reason` is undefined for an orderly close. */
  onClose(reason: HeartlineError | undefined): void;
}

export interface TransportOptions {
  /** Largest frame accepted from the peer, in bytes. */
  maxFrameSize: number;
  /** Bound on bytes waiting to be written, in bytes. */
  maxQueuedBytes: number;
  /** Initial delay of TCP keepalive probes, in ms. */
  keepAliveDelay: number;
  logger: Logger;
}

/**
 * One TCP socket carrying Heartline frames: it reads through a `FrameDecoder`,
 * writes through a `FrameWriter`, sets TCP_NODELAY and SO_KEEPALIVE, and
 * reports its end exactly once. A protocol error closes only this socket and is
 * logged with the peer address. Nothing here throws out of a socket handler.
 */
export class Transport implements FrameSink {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly writer: FrameWriter;
  /** `host:port` of the peer, kept after the socket closes. */
  readonly peer: string;
  private readonly handler: TransportHandler;
  private readonly logger: Logger;
  private closeReason: HeartlineError | undefined;
  private closed = false;
  /** Whether the socket keeps the process alive (Node's default for a new socket). */
  private refd = true;
  /** When bytes last arrived (clock ms). */
  lastReadAt = now();

  constructor(socket: Socket, options: TransportOptions, handler: TransportHandler) {
    this.socket = socket;
    this.handler = handler;
    this.logger = options.logger;
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new FrameDecoder(options.maxFrameSize, this);
    this.writer = new FrameWriter(socket, options.maxQueuedBytes);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, options.keepAliveDelay);
    socket.on('data', (chunk: Buffer) => {
      this.lastReadAt = now();
      this.decoder.push(chunk);
    });
    socket.on('error', (err: Error) => {
      this.closeReason ??= new HeartlineError('CONNECTION_LOST_WRITTEN', `socket error: ${err.message}`, { cause: err });
    });
    socket.on('close', () => this.finish());
    // Node replaces the handle while it tries a host's addresses one by one (autoSelectFamily),
    // and a new handle is ref'd: apply the state asked for to the one that connected.
    socket.once('connect', () => {
      if (!this.refd) socket.unref();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues one frame; returns its write sequence number, or 0 when refused. */
  send(flags: number, status: number, type: FrameType, id: number, body?: Buffer): number {
    return this.writer.write(flags, status, type, id, body);
  }

  /**
   * Queues a body-less control frame (a pong) ahead of every data frame waiting.
   * Returns 0 when refused: closed, or the write bound is reached.
   */
  sendUrgent(flags: number, type: FrameType, id: number): number {
    return this.writer.writeUrgent(flags, type, id);
  }

  /** Lets this socket keep the process alive (Node's default). Idempotent and O(1). */
  ref(): void {
    if (this.refd || this.socket.destroyed) return;
    this.refd = true;
    this.socket.ref();
  }

  /**
   * Lets the process exit while this socket is open. Idempotent and O(1). A
   * connect or a write under way still keeps the process alive until it ends
   * (libuv counts requests, not only handles).
   */
  unref(): void {
    if (!this.refd || this.socket.destroyed) return;
    this.refd = false;
    this.socket.unref();
  }

  /** Tears the socket down now; `reason` is reported to the handler. */
  destroy(reason?: HeartlineError): void {
    if (this.closed) return;
    this.closeReason ??= reason;
    // Frames still in the chunk being decoded are not delivered (a flood ends here).
    this.decoder.stop();
    this.writer.close();
    this.socket.destroy();
  }

  /** Flushes what is queued, then half-closes; the socket closes when the peer does (or on `destroy`). */
  end(): void {
    if (this.closed) return;
    this.writer.flush();
    this.writer.close();
    this.socket.end();
  }

  // FrameSink: the decoder calls these synchronously from socket 'data'.
  onFrame(header: FrameHeader, body: Buffer): void {
    if (!this.closed) this.handler.onFrame(header, body);
  }

  onOversize(header: FrameHeader): void {
    if (!this.closed) this.handler.onOversize(header);
  }

  onProtocolError(err: HeartlineError): void {
    this.logger.warn(`protocol error from ${this.peer}: ${err.message}; closing this connection`, { peer: this.peer, code: err.code });
    this.destroy(err);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
    let reason = this.closeReason;
    if (reason === undefined && this.decoder.midFrame) {
      reason = new HeartlineError('PROTOCOL_ERROR', 'connection closed in the middle of a frame');
      this.logger.warn(`truncated frame from ${this.peer}`, { peer: this.peer });
    }
    this.handler.onClose(reason);
  }
}
