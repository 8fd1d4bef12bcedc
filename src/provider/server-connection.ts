import type { Socket } from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ConnectionState } from '../exchange/connection-state.js';
import { decodeBody, encodeBody } from '../protocol/codec.js';
import { FrameType, HEADER_SIZE, MIN_MAX_FRAME_SIZE, PROTOCOL_VERSION } from '../protocol/constants.js';
import { frameFlags, isRequest, isTwoWay, type FrameHeader } from '../protocol/frame.js';
import { errorBody, readHandshakeRequest, readRequest, type HandshakeResponse } from '../protocol/messages.js';
import type { Logger } from '../transport/logger.js';
import { Transport, type TransportHandler } from '../transport/transport.js';
import type { ServiceRegistry } from './service-registry.js';

/** Resolved options of one provider connection (see `ServerOptions` for the documented defaults). */
export interface ServerConnectionOptions {
  maxFrameSize: number;
  maxQueuedBytes: number;
  keepAliveDelay: number;
  exposeStack: boolean;
  logger: Logger;
}

const RESPONSE_FLAGS = frameFlags(FrameType.Call, false, false);
const HANDSHAKE_RESPONSE_FLAGS = frameFlags(FrameType.Handshake, false, false);
const PONG_FLAGS = frameFlags(FrameType.Heartbeat, false, false);
const DRAIN_FLAGS = frameFlags(FrameType.Drain, true, false);

/** A call being executed; `cancelled` is set by a Cancel frame and drops its response. */
interface Execution {
  cancelled: boolean;
}

/**
 * The provider's end of one connection: it answers the handshake, then
 * dispatches each request to the registered service and writes the response.
 * Nothing a peer sends, and nothing a handler does, can throw out of here.
 */
export class ServerConnection implements TransportHandler {
  private readonly transport: Transport;
  private readonly registry: ServiceRegistry;
  private readonly options: ServerConnectionOptions;
  private readonly onClosed: (conn: ServerConnection) => void;
  private stateValue = ConnectionState.Handshaking;
  private peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  private readonly executions = new Map<number, Execution>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly closeWaiters: Array<() => void> = [];

  constructor(socket: Socket, registry: ServiceRegistry, options: ServerConnectionOptions, onClosed: (conn: ServerConnection) => void) {
    this.registry = registry;
    this.options = options;
    this.onClosed = onClosed;
    this.transport = new Transport(socket, options, this);
    socket.on('drain', () => socket.resume());
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get peer(): string {
    return this.transport.peer;
  }

  /** Calls being executed on this connection. */
  get inFlight(): number {
    return this.executions.size;
  }

  /** Sends the drain notice: the consumer should start no new calls here. */
  drain(): void {
    if (this.stateValue !== ConnectionState.Ready) return;
    this.stateValue = ConnectionState.Draining;
    this.transport.send(DRAIN_FLAGS, 0, FrameType.Drain, 0);
  }

  /** Resolves when no call is executing. */
  idle(): Promise<void> {
    if (this.executions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Calls `callback` once the socket is closed (at once if it already is). */
  onceClosed(callback: () => void): void {
    if (this.stateValue === ConnectionState.Closed) callback();
    else this.closeWaiters.push(callback);
  }

  /** Flushes what is queued and closes. */
  end(): void {
    this.transport.end();
  }

  destroy(): void {
    this.transport.destroy();
  }

  onFrame(header: FrameHeader, body: Buffer): void {
    if (this.stateValue === ConnectionState.Handshaking) {
      this.handshake(header, body);
      return;
    }
    switch (header.type) {
      case FrameType.Call:
        if (!isRequest(header.flags)) return this.protocolError('unexpected call response from consumer');
        this.dispatch(header, body);
        return;
      case FrameType.Heartbeat:
        if (isRequest(header.flags)) this.transport.send(PONG_FLAGS, 0, FrameType.Heartbeat, header.id);
        return;
      case FrameType.Cancel: {
        const execution = this.executions.get(header.id);
        if (execution !== undefined) execution.cancelled = true;
        return;
      }
      case FrameType.Drain:
        return; // consumers have nothing to drain
      case FrameType.Handshake:
        return this.protocolError('second handshake');
    }
  }

  onOversize(header: FrameHeader): void {
    if (this.stateValue !== ConnectionState.Handshaking && header.type === FrameType.Call && isRequest(header.flags)) {
      if (isTwoWay(header.flags)) {
        this.sendError(header.id, 'PAYLOAD_TOO_LARGE', `request of ${HEADER_SIZE + header.length} bytes is over this provider's limit of ${this.options.maxFrameSize} bytes`);
      }
      return;
    }
    this.protocolError(`oversized frame of type ${header.type}`);
  }

  onClose(): void {
    this.stateValue = ConnectionState.Closed;
    for (const execution of this.executions.values()) execution.cancelled = true;
    this.onClosed(this);
    for (const wake of this.idleWaiters.splice(0)) wake();
    for (const wake of this.closeWaiters.splice(0)) wake();
  }

  private handshake(header: FrameHeader, body: Buffer): void {
    if (header.type !== FrameType.Handshake || !isRequest(header.flags)) return this.protocolError('the first frame must be a handshake');
    let hello;
    try {
      hello = readHandshakeRequest(decodeBody(body));
    } catch {
      hello = undefined;
    }
    if (hello === undefined || hello.version < 1 || hello.maxFrameSize < MIN_MAX_FRAME_SIZE) {
      const message = hello === undefined ? 'malformed handshake' : `unacceptable handshake (version ${hello.version}, maxFrameSize ${hello.maxFrameSize})`;
      this.transport.send(HANDSHAKE_RESPONSE_FLAGS, ERROR_CODES.PROTOCOL_ERROR.status, FrameType.Handshake, header.id, encodeBody(errorBody('PROTOCOL_ERROR', message)));
      this.transport.end();
      return;
    }
    this.peerMaxFrameSize = hello.maxFrameSize;
    const answer: HandshakeResponse = { version: Math.min(hello.version, PROTOCOL_VERSION), maxFrameSize: this.options.maxFrameSize, heartbeat: 0, idleTimeout: 0 };
    this.stateValue = ConnectionState.Ready;
    this.transport.send(HANDSHAKE_RESPONSE_FLAGS, 0, FrameType.Handshake, header.id, encodeBody(answer));
  }

  private dispatch(header: FrameHeader, body: Buffer): void {
    const twoWay = isTwoWay(header.flags);
    const id = header.id;
    let decoded: unknown;
    try {
      decoded = decodeBody(body);
    } catch (err) {
      return this.protocolError(`undecodable request body: ${(err as Error).message}`);
    }
    const request = readRequest(decoded);
    if (request instanceof HeartlineError) {
      if (twoWay) this.sendError(id, request.code, request.message);
      return;
    }
    if (this.stateValue === ConnectionState.Draining) {
      if (twoWay) this.sendError(id, 'UNAVAILABLE', 'provider is draining');
      return;
    }
    const service = this.registry.lookup(request.service, request.version, request.group);
    if (service === undefined) {
      if (twoWay) this.sendError(id, 'SERVICE_NOT_FOUND', `no service ${request.service} version '${request.version}' group '${request.group}'`);
      return;
    }
    const handler = service.methods.get(request.method);
    if (handler === undefined) {
      if (twoWay) this.sendError(id, 'METHOD_NOT_FOUND', `${request.service} has no method '${request.method}'`);
      return;
    }
    const respond = twoWay && !service.oneWay.has(request.method);
    const execution: Execution = { cancelled: false };
    this.executions.set(id, execution);
    let result: unknown;
    try {
      result = handler.apply(service.instance, request.args);
    } catch (err) {
      this.finish(id, execution, respond, undefined, err, true);
      return;
    }
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
      (result as PromiseLike<unknown>).then(
        (value) => this.finish(id, execution, respond, value, undefined, false),
        (err: unknown) => this.finish(id, execution, respond, undefined, err, true),
      );
    } else {
      this.finish(id, execution, respond, result, undefined, false);
    }
  }

  private finish(id: number, execution: Execution, respond: boolean, value: unknown, error: unknown, failed: boolean): void {
    if (this.executions.get(id) === execution) this.executions.delete(id);
    if (respond && !execution.cancelled && this.stateValue !== ConnectionState.Closed) {
      if (failed) this.sendHandlerError(id, error);
      else this.sendValue(id, value);
    }
    if (this.executions.size === 0 && this.idleWaiters.length > 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private sendValue(id: number, value: unknown): void {
    let body: Buffer;
    try {
      body = encodeBody(value);
    } catch (err) {
      return this.sendError(id, 'SERIALIZATION_ERROR', `result could not be encoded: ${(err as Error).message}`);
    }
    if (HEADER_SIZE + body.length > this.peerMaxFrameSize) {
      return this.sendError(id, 'PAYLOAD_TOO_LARGE', `response of ${HEADER_SIZE + body.length} bytes is over the consumer's limit of ${this.peerMaxFrameSize} bytes`);
    }
    this.write(id, 0, body);
  }

  private sendHandlerError(id: number, error: unknown): void {
    const err = error instanceof Error ? error : undefined;
    const message = err !== undefined ? err.message : String(error);
    const name = err !== undefined ? err.name : typeof error;
    const own = err as (Error & { details?: unknown; code?: unknown }) | undefined;
    const details = own?.details !== undefined ? own.details : typeof own?.code === 'string' ? { code: own.code } : undefined;
    const stack = this.options.exposeStack ? err?.stack : undefined;
    let body: Buffer;
    try {
      body = encodeBody(errorBody('HANDLER_ERROR', message, name, details, stack));
    } catch {
      body = encodeBody(errorBody('HANDLER_ERROR', message, name));
    }
    this.write(id, ERROR_CODES.HANDLER_ERROR.status, body);
  }

  private sendError(id: number, code: ErrorCode, message: string): void {
    this.write(id, ERROR_CODES[code].status, encodeBody(errorBody(code, message)));
  }

  private write(id: number, status: number, body: Buffer): void {
    if (this.transport.send(RESPONSE_FLAGS, status, FrameType.Call, id, body) === 0 && !this.transport.isClosed) {
      // The consumer is not reading its responses and the bound is reached: give up on it.
      this.options.logger.warn(`consumer ${this.peer} is not reading; closing its connection`, { peer: this.peer });
      this.transport.destroy(new HeartlineError('LIMIT_EXCEEDED', 'write queue bound reached'));
      return;
    }
    // Backpressure: stop reading new requests until the socket drains.
    if (this.transport.writer.isBlocked) this.transport.socket.pause();
  }

  private protocolError(message: string): void {
    this.options.logger.warn(`protocol error from ${this.peer}: ${message}; closing this connection`, { peer: this.peer });
    this.transport.destroy(new HeartlineError('PROTOCOL_ERROR', message));
  }
}
