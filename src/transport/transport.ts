import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { HeartlineError } from '../errors/heartline-error.js';
import type { FrameType } from '../protocol/constants.js';
import type { FrameHeader } from '../protocol/frame.js';
import { FrameDecoder, type FrameSink } from '../protocol/frame-decoder.js';
import { now } from './clock.js';
import { FrameWriter } from './frame-writer.js';
import type { Logger } from './logger.js';
import { peerTls, type PeerTls } from './secure-socket.js';
import { describeTlsError, isTlsError, looksLikeTls } from './tls-failure.js';

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
  /** The owner's logger, bound to this connection's `peer` and `connectionId` (`withFields`): the transport's lines add neither. */
  logger: Logger;
}

/**
 * One TCP socket carrying Heartline frames: it reads through a `FrameDecoder`,
 * writes through a `FrameWriter`, sets TCP_NODELAY and SO_KEEPALIVE, and
 * reports its end exactly once. A protocol error closes only this socket and is
 * logged with the peer address. Nothing here throws out of a socket handler.
 *
 * The socket may be a `TLSSocket` (TLS is a layer below the frame, see
 * `secure-socket.ts`): frames, backpressure and ref/unref work the same. A
 * TLS failure before the first frame arrived (the TLS handshake, or the
 * provider refusing our certificate just after it) ends the socket with
 * CONNECT_FAILED, whose message names Node's code and whose `cause` is Node's
 * error. A plain socket whose peer starts with a TLS record is a protocol error
 * that says so.
 */
export class Transport implements FrameSink {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly writer: FrameWriter;
  /** `host:port` of the peer (known once connected), kept after the socket closes. */
  private peerValue: string;
  /** What TLS says of the peer (its certificate's subject, `authorized`), once the TLS handshake is done; undefined on a plain socket. */
  tls: PeerTls | undefined;
  private readonly handler: TransportHandler;
  private readonly logger: Logger;
  private closeReason: HeartlineError | undefined;
  private closed = false;
  /** We opened this socket (a consumer's): it was still connecting when handed over. */
  private readonly dialled: boolean;
  /** A consumer's TLS socket whose TLS handshake has not completed yet. */
  private tlsPending: boolean;
  /** The TCP connection is up (a provider's sockets always are). */
  private connected: boolean;
  /** A frame has arrived: from then on a failure may come after calls were written. */
  private heardFrame = false;
  /** `destroy()` or `end()` was called: a close without a reason is ours, not the peer's. */
  private endedHere = false;
  /** Whether the socket keeps the process alive (Node's default for a new socket). */
  private refd = true;
  /** When bytes last arrived (clock ms). */
  lastReadAt = now();
  /** Bytes read from the socket since it opened, frame headers included. */
  bytesIn = 0;

  constructor(socket: Socket, options: TransportOptions, handler: TransportHandler) {
    this.socket = socket;
    this.handler = handler;
    this.logger = options.logger;
    this.peerValue = peerName(socket);
    this.dialled = socket.connecting;
    this.connected = !socket.connecting;
    const isTls = socket instanceof TLSSocket;
    // A consumer's TLS socket is handed over while it connects; a provider's once its TLS handshake is done.
    this.tlsPending = isTls && this.dialled;
    this.tls = isTls && !this.tlsPending ? peerTls(socket) : undefined;
    this.decoder = new FrameDecoder(options.maxFrameSize, this);
    this.writer = new FrameWriter(socket, options.maxQueuedBytes);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, options.keepAliveDelay);
    // Listeners are module-level functions that find this transport on the socket (no closures per connection).
    (socket as TransportSocket)[kTransport] = this;
    // A plain end meeting a TLS peer: say so, rather than "bad magic" (or waiting for a frame that never comes).
    if (!isTls) socket.prependOnceListener('data', onFirstData);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    // Node replaces the handle while it tries a host's addresses one by one (autoSelectFamily),
    // and a new handle is ref'd: apply the state asked for to the one that connected.
    // (A provider's socket is connected already: no listener.)
    if (this.dialled) socket.once('connect', onConnect);
    if (this.tlsPending) socket.once('secureConnect', onSecureConnect);
  }

  /** @internal (socket 'data') */
  read(chunk: Buffer): void {
    this.lastReadAt = now();
    this.bytesIn += chunk.length;
    this.decoder.push(chunk);
  }

  /** @internal (socket 'error') */
  socketError(err: Error): void {
    this.closeReason ??= this.failure(err);
  }

  /** @internal (socket 'connect') */
  socketConnected(): void {
    this.connected = true;
    this.peerValue = peerName(this.socket);
    if (!this.refd) this.socket.unref();
  }

  /** @internal (socket 'secureConnect') */
  tlsConnected(): void {
    this.tlsPending = false;
    this.tls = peerTls(this.socket as TLSSocket);
  }

  /** `host:port` of the peer, kept after the socket closes (`?:?` until a consumer's socket connects). */
  get peer(): string {
    return this.peerValue;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes handed to the socket since it opened, frame headers included. */
  get bytesOut(): number {
    return this.writer.bytesOut;
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

  /** The handshake agreed fragments (protocol.md 4.9): MORE frames are read from now on, and bodies over `fragmentSize` bytes are sent as fragments. */
  enableFragments(fragmentSize: number): void {
    this.decoder.enableFragments();
    this.writer.fragmentSize = fragmentSize;
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
    this.endedHere = true;
    this.closeReason ??= reason;
    // Frames still in the chunk being decoded are not delivered (a flood ends here).
    this.decoder.stop();
    this.writer.close();
    this.socket.destroy();
  }

  /** Flushes what is queued (large messages to their last fragment), then half-closes; the socket closes when the peer does (or on `destroy`). */
  end(): void {
    if (this.closed) return;
    this.endedHere = true;
    // Large messages still being sent in fragments go out to their last one first.
    this.writer.end(() => this.socket.end());
  }

  // FrameSink: the decoder calls these synchronously from socket 'data'.
  onFrame(header: FrameHeader, body: Buffer): void {
    this.heardFrame = true;
    if (!this.closed) this.handler.onFrame(header, body);
  }

  onOversize(header: FrameHeader): void {
    if (!this.closed) this.handler.onOversize(header);
  }

  onProtocolError(err: HeartlineError): void {
    this.logger.warn({ err }, `protocol error from ${this.peer}: ${err.message}; closing this connection`);
    this.destroy(err);
  }

  /**
   * The close reason for a socket error. A TLS failure, or any failure of a
   * socket we dialled before a single frame came back, means the connection
   * never opened: CONNECT_FAILED, whose message says what went wrong and
   * whose `cause` is Node's error. Otherwise the TCP connection was lost.
   */
  private failure(err: NodeJS.ErrnoException): HeartlineError {
    if (isTlsError(err)) return this.setupFailure(`TLS with ${this.peer} failed: ${describeTlsError(err)}`, err);
    if (this.dialled && this.connected && !this.heardFrame && this.socket instanceof TLSSocket) {
      return this.setupFailure(`${this.unanswered()} (${err.code ?? 'no code'}: ${err.message})`, err);
    }
    return new HeartlineError('CONNECTION_LOST_WRITTEN', `socket error: ${err.message}`, { cause: err });
  }

  /** Before the first frame only the handshake was written: the connection never opened, and a retry is safe. */
  private setupFailure(message: string, cause: Error): HeartlineError {
    return new HeartlineError(this.heardFrame ? 'CONNECTION_LOST_WRITTEN' : 'CONNECT_FAILED', message, { cause });
  }

  /** Why a peer we dialled may have closed without sending a frame, as far as TLS can tell. */
  private unanswered(): string {
    if (!(this.socket instanceof TLSSocket)) {
      return `${this.peer} closed the connection without answering the handshake (a provider that serves TLS does so to a client without the tls option; so does one shedding connections past its maxPendingHandshakes, or whose handshakeTimeout passed)`;
    }
    if (this.tlsPending) return `${this.peer} closed the connection before TLS was established: does it serve TLS?`;
    return `${this.peer} closed the connection just after the TLS handshake, without answering: under mutual TLS, it refused this client's certificate (or got none)`;
  }

  /** @internal The first bytes from the peer of a plain socket: a TLS record means the two ends disagree about TLS. */
  sniff(chunk: Buffer): void {
    if (this.closed || !looksLikeTls(chunk)) return;
    this.onProtocolError(new HeartlineError('PROTOCOL_ERROR', 'the peer speaks TLS and this end does not: give both ends the tls option (or neither)'));
  }

  /** @internal (socket 'close') */
  finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.writer.close();
    let reason = this.closeReason;
    if (reason === undefined && this.decoder.midFrame) {
      reason = new HeartlineError('PROTOCOL_ERROR', 'connection closed in the middle of a frame');
      this.logger.warn({}, `truncated frame from ${this.peer}`);
    } else if (reason === undefined && this.dialled && this.connected && !this.heardFrame && !this.endedHere) {
      reason = new HeartlineError('CONNECT_FAILED', this.unanswered());
    }
    this.handler.onClose(reason);
  }
}

/** `host:port` of a socket's peer (`?:?` while a dialled socket connects). */
export function peerName(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** Where a socket's listeners find its transport. */
const kTransport = Symbol('heartline.transport');
type TransportSocket = Socket & { [kTransport]: Transport };

function onFirstData(this: TransportSocket, chunk: Buffer): void {
  this[kTransport].sniff(chunk);
}

function onData(this: TransportSocket, chunk: Buffer): void {
  this[kTransport].read(chunk);
}

function onError(this: TransportSocket, err: Error): void {
  this[kTransport].socketError(err);
}

function onClose(this: TransportSocket): void {
  this[kTransport].finish();
}

function onConnect(this: TransportSocket): void {
  this[kTransport].socketConnected();
}

function onSecureConnect(this: TransportSocket): void {
  this[kTransport].tlsConnected();
}
