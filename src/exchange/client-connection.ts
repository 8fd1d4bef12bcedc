import { connect as netConnect } from 'node:net';
import { HeartlineError } from '../errors/heartline-error.js';
import { decodeBody, encodeBody } from '../protocol/codec.js';
import { FrameType, HEADER_SIZE, PROTOCOL_VERSION } from '../protocol/constants.js';
import { frameFlags, isRequest, type FrameHeader } from '../protocol/frame.js';
import { readErrorResponse, readHandshakeResponse, type HandshakeRequest } from '../protocol/messages.js';
import type { Logger } from '../transport/logger.js';
import { Transport, type TransportHandler } from '../transport/transport.js';
import { ConnectionState, canTransition } from './connection-state.js';
import { PendingCalls, withOrigin, type PendingCall } from './pending-calls.js';

/** Resolved options of one consumer connection (see `ClientOptions` for the documented defaults). */
export interface ClientConnectionOptions {
  host: string;
  port: number;
  connectTimeout: number;
  maxFrameSize: number;
  maxQueuedBytes: number;
  keepAliveDelay: number;
  logger: Logger;
}

/** One call, encoded and ready for the wire. */
export interface OutgoingCall {
  /** `service#method`, for messages. */
  label: string;
  /** The MessagePack request body. */
  body: Buffer;
  /** ms; 0 or Infinity for none. */
  timeout: number;
  oneWay: boolean;
  /** Carries the caller's stack, or undefined when stacks are not captured. */
  origin: Error | undefined;
}

/** What a connection tells its owner (the connection registry). */
export interface ConnectionObserver {
  onStateChange(conn: ClientConnection, from: ConnectionState, to: ConnectionState, reason?: HeartlineError): void;
}

const CALL_FLAGS_TWO_WAY = frameFlags(FrameType.Call, true, true);
const CALL_FLAGS_ONE_WAY = frameFlags(FrameType.Call, true, false);
const HANDSHAKE_FLAGS = frameFlags(FrameType.Handshake, true, true);
const PONG_FLAGS = frameFlags(FrameType.Heartbeat, false, false);
const CANCEL_FLAGS = frameFlags(FrameType.Cancel, true, false);

/**
 * The consumer's end of one long connection: it connects, shakes hands, then
 * multiplexes calls by request id. Calls made before the handshake completes
 * wait (within their own timeout) and go out once it does. When the socket
 * closes, every pending call fails at once.
 */
export class ClientConnection implements TransportHandler {
  readonly address: string;
  private stateValue = ConnectionState.Connecting;
  private readonly options: ClientConnectionOptions;
  private readonly observer: ConnectionObserver | undefined;
  private readonly transport: Transport;
  private readonly pending = new PendingCalls();
  private waiting: Array<[PendingCall, OutgoingCall]> = [];
  private peerMaxFrameSize = 0;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private readonly onCallTimeout = (call: PendingCall): void => this.timeoutCall(call);
  /** When the connection was created (ms since epoch). */
  readonly createdAt = Date.now();

  constructor(options: ClientConnectionOptions, observer?: ConnectionObserver) {
    this.options = options;
    this.observer = observer;
    this.address = `${options.host}:${options.port}`;
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    const socket = netConnect({ host: options.host, port: options.port });
    this.transport = new Transport(socket, options, this);
    socket.once('connect', () => this.startHandshake());
    this.connectTimer = setTimeout(() => {
      this.transport.destroy(new HeartlineError('CONNECT_FAILED', `connect to ${this.address} timed out after ${options.connectTimeout} ms`));
    }, options.connectTimeout);
    this.connectTimer.unref();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Calls waiting for a response (two-way calls only). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Responses that arrived after their call had timed out or been cancelled. */
  get lateResponses(): number {
    return this.pending.lateResponses;
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Sends one call; resolves with the decoded result (undefined for one-way calls once written). */
  call(out: OutgoingCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call: PendingCall = { id: this.pending.nextId(), label: out.label, seq: 0, timeout: out.timeout, origin: out.origin, resolve, reject, timer: undefined };
      const state = this.stateValue;
      if (state === ConnectionState.Ready) {
        if (!out.oneWay) this.pending.add(call, out.timeout, this.onCallTimeout);
        this.write(call, out);
      } else if (state === ConnectionState.Connecting || state === ConnectionState.Handshaking) {
        if (!out.oneWay) this.pending.add(call, out.timeout, this.onCallTimeout);
        this.waiting.push([call, out]);
      } else {
        const code = state === ConnectionState.Draining ? 'UNAVAILABLE' : 'CONNECTION_LOST_UNWRITTEN';
        reject(withOrigin(new HeartlineError(code, `${out.label}: connection to ${this.address} is ${state}`), out.origin));
      }
    });
  }

  /** Fails every call with CLIENT_CLOSED and closes the socket. Resolves once it is closed. */
  close(): Promise<void> {
    if (this.stateValue !== ConnectionState.Closed) {
      this.transport.destroy(new HeartlineError('CLIENT_CLOSED', 'the client was closed'));
    }
    return this.closedPromise;
  }

  private write(call: PendingCall, out: OutgoingCall): void {
    if (HEADER_SIZE + out.body.length > this.peerMaxFrameSize) {
      this.failOne(call, out, new HeartlineError('PAYLOAD_TOO_LARGE', `${out.label}: request of ${HEADER_SIZE + out.body.length} bytes is over the provider's limit of ${this.peerMaxFrameSize} bytes`));
      return;
    }
    const seq = this.transport.send(out.oneWay ? CALL_FLAGS_ONE_WAY : CALL_FLAGS_TWO_WAY, 0, FrameType.Call, call.id, out.body);
    if (seq === 0) {
      this.failOne(call, out, new HeartlineError('LIMIT_EXCEEDED', `${out.label}: more than ${this.options.maxQueuedBytes} bytes are waiting to be written to ${this.address}`));
      return;
    }
    call.seq = seq;
    if (out.oneWay) call.resolve(undefined);
  }

  private failOne(call: PendingCall, out: OutgoingCall, err: HeartlineError): void {
    if (out.oneWay) call.reject(withOrigin(err, call.origin));
    else this.pending.fail(call, err);
  }

  private timeoutCall(call: PendingCall): void {
    const err = new HeartlineError('TIMEOUT', `${call.label}: no response from ${this.address} within ${call.timeout} ms`);
    if (!this.pending.fail(call, err)) return;
    // Tell the provider it may drop the call; the response, if it still comes, is counted as late.
    if (call.seq !== 0 && !this.transport.isClosed) this.transport.send(CANCEL_FLAGS, 0, FrameType.Cancel, call.id);
  }

  private startHandshake(): void {
    if (!this.transition(ConnectionState.Handshaking)) return;
    const hello: HandshakeRequest = { version: PROTOCOL_VERSION, maxFrameSize: this.options.maxFrameSize, heartbeat: 0, agent: 'heartline-node' };
    this.transport.send(HANDSHAKE_FLAGS, 0, FrameType.Handshake, 0, encodeBody(hello));
  }

  private finishHandshake(header: FrameHeader, body: Buffer): void {
    if (this.stateValue !== ConnectionState.Handshaking) {
      this.protocolError('unexpected handshake response');
      return;
    }
    if (header.status !== 0) {
      this.transport.destroy(readErrorResponse(header.status, body));
      return;
    }
    let value: unknown;
    try {
      value = decodeBody(body);
    } catch {
      this.protocolError('undecodable handshake response');
      return;
    }
    const answer = readHandshakeResponse(value);
    if (answer === undefined || answer.version !== PROTOCOL_VERSION) {
      this.protocolError('malformed handshake response');
      return;
    }
    this.peerMaxFrameSize = answer.maxFrameSize;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (!this.transition(ConnectionState.Ready)) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const [call, out] of waiting) {
      // A waiting call may have timed out already; one-way calls are never in the table.
      if (out.oneWay || this.pending.has(call)) this.write(call, out);
    }
  }

  onFrame(header: FrameHeader, body: Buffer): void {
    switch (header.type) {
      case FrameType.Call:
        if (isRequest(header.flags)) {
          // Calls from provider to consumer are not served by this version.
          this.protocolError('unexpected call request from provider');
          return;
        }
        this.settle(header, body);
        return;
      case FrameType.Handshake:
        this.finishHandshake(header, body);
        return;
      case FrameType.Heartbeat:
        if (isRequest(header.flags)) this.transport.send(PONG_FLAGS, 0, FrameType.Heartbeat, header.id);
        return;
      case FrameType.Drain:
        this.transition(ConnectionState.Draining);
        return;
      case FrameType.Cancel:
        return; // providers do not cancel consumer calls; ignored
    }
  }

  private settle(header: FrameHeader, body: Buffer): void {
    const call = this.pending.take(header.id);
    if (call === undefined) return;
    if (header.status !== 0) {
      call.reject(withOrigin(readErrorResponse(header.status, body), call.origin));
      return;
    }
    let value: unknown;
    try {
      value = body.length === 0 ? undefined : decodeBody(body);
    } catch (err) {
      call.reject(withOrigin(new HeartlineError('PROTOCOL_ERROR', `${call.label}: undecodable response body`, { cause: err }), call.origin));
      this.protocolError('undecodable response body');
      return;
    }
    call.resolve(value);
  }

  onOversize(header: FrameHeader): void {
    if (header.type === FrameType.Call && !isRequest(header.flags)) {
      const call = this.pending.take(header.id);
      call?.reject(withOrigin(new HeartlineError('PAYLOAD_TOO_LARGE', `${call.label}: response of ${header.length} bytes is over this consumer's limit of ${this.options.maxFrameSize} bytes`), call.origin));
      return;
    }
    this.protocolError(`oversized frame of type ${header.type}`);
  }

  onClose(reason: HeartlineError | undefined): void {
    const from = this.stateValue;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    const neverReady = from === ConnectionState.Connecting || from === ConnectionState.Handshaking;
    if (reason?.code === 'CLIENT_CLOSED') {
      this.pending.failAllWith(reason);
    } else if (neverReady) {
      const err = reason !== undefined && reason.code !== 'CONNECTION_LOST_WRITTEN' && reason.code !== 'PROTOCOL_ERROR'
        ? reason
        : new HeartlineError('CONNECT_FAILED', `could not connect to ${this.address}: ${reason?.message ?? 'closed during handshake'}`, { cause: reason });
      this.pending.failAllWith(err);
    } else {
      this.pending.failAll(this.transport.writer.flushedSeq, `connection to ${this.address} lost${reason ? `: ${reason.message}` : ''}`, reason);
    }
    for (const [call, out] of waiting) {
      if (out.oneWay) call.reject(withOrigin(new HeartlineError(neverReady ? 'CONNECT_FAILED' : 'CONNECTION_LOST_UNWRITTEN', `${out.label}: connection to ${this.address} closed`), call.origin));
    }
    this.transition(ConnectionState.Closed, reason);
    this.resolveClosed();
  }

  private protocolError(message: string): void {
    this.options.logger.warn(`protocol error from ${this.address}: ${message}; closing this connection`, { peer: this.address });
    this.transport.destroy(new HeartlineError('PROTOCOL_ERROR', message));
  }

  private transition(to: ConnectionState, reason?: HeartlineError): boolean {
    const from = this.stateValue;
    if (!canTransition(from, to)) return false;
    this.stateValue = to;
    this.observer?.onStateChange(this, from, to, reason);
    return true;
  }
}
