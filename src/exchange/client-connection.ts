import { HeartlineError } from '../errors/heartline-error.js';
import { keptMessage } from '../errors/kept-message.js';
import { FrameType, HEADER_SIZE } from '../protocol/constants.js';
import { FLAGS, isRequest, type FrameHeader } from '../protocol/frame.js';
import { asVersion1Request, readDrainBody, readResponse, writeBudget, type HandshakeResponse } from '../protocol/messages.js';
import { now } from '../transport/clock.js';
import type { Logger } from '../transport/logger.js';
import { withFields } from '../transport/log-fields.js';
import { Transport, type TransportHandler } from '../transport/transport.js';
import { connectSocket } from '../transport/secure-socket.js';
import type { ResolvedClientTls } from '../transport/tls-options.js';
import { unwatchAbort, watchAbort } from './abort-watch.js';
import { refuseOversizedCallback, runCallback, type CallbackLink } from './callback-serving.js';
import { CallbackTable, DEFAULT_MAX_CALLBACKS } from './callback-table.js';
import { ClientHandshake, type ClientHandshakeHost, type Credentials } from './client-handshake.js';
import { ConnectionState, canTransition, type DisconnectReason } from './connection-state.js';
import { Heartbeat, type HeartbeatLink } from './heartbeat.js';
import { TimerWheel } from './timer-wheel.js';
import { ConnectionPings, type PingHost } from './connection-pings.js';
import { PingWaiters } from './ping-waiters.js';
import { cancelledError, ConnectionCall, OneWayCalls, type CallOwner, type CallSink, type OutgoingCall } from './connection-call.js';
import { PendingCalls, withOrigin } from './pending-calls.js';

/** Resolved options of one consumer connection (see `ClientOptions` for the documented defaults). */
export interface ClientConnectionOptions {
  host: string;
  port: number;
  connectTimeout: number;
  maxFrameSize: number;
  maxQueuedBytes: number;
  keepAliveDelay: number;
  /** Ping interval proposed in the handshake, in ms; 0 for none. */
  heartbeat: number;
  /** Silent intervals before the provider is declared dead. */
  heartbeatMisses: number;
  /** Live callback functions on this connection; one more fails the call with LIMIT_EXCEEDED (`maxCallbacks`). Default 1000. */
  maxCallbacks?: number | undefined;
  /** Keep the process alive while the socket is open, even with no work on it (`keepProcessAlive`). Default false. */
  keepProcessAlive?: boolean | undefined;
  logger: Logger;
  /** TLS to the provider (`tls`); undefined for plain TCP. */
  tls?: ResolvedClientTls | undefined;
  /** Credentials for the handshake (`credentials`): a string, or a function asked once per connection. */
  credentials?: Credentials | undefined;
  /** Bodies over this many bytes go out as fragments (`fragmentSize`); 0 none. Default 65536. */
  fragmentSize?: number | undefined;
  /** The client's timer wheel, which drives this connection's heartbeat; when absent, the connection makes its own. */
  timers?: TimerWheel | undefined;
}

export type { Credentials } from './client-handshake.js';

/** What a connection tells its owner. */
export interface ConnectionObserver {
  /** A state change; Draining to Draining: the reason became 'drain' (the provider shuts down) after a drain for credentials. */
  onStateChange(conn: ClientConnection, from: ConnectionState, to: ConnectionState): void;
  /**
   * The connection failed before its handshake completed, so none of `calls`
   * was written. Return true to take them over (send them on another
   * connection, settling each through its own resolve/reject); false lets
   * them fail here.
   */
  adoptUnsent?(conn: ClientConnection, calls: ConnectionCall[]): boolean;
  /** A pong answered our last ping after `rtt` ms. */
  onPong?(conn: ClientConnection, rtt: number): void;
  /**
   * The provider refused `call` with UNAVAILABLE (retry-safe: nothing of it
   * ran) on this connection, which drains because its credentials expired
   * while the provider still serves: the call crossed the drain notice.
   * Return true to take it over (send it again, on another connection to the
   * same provider, settling it through its own resolve/reject); false lets it
   * fail here. Its `onSettle` has been called.
   */
  resendRefused?(conn: ClientConnection, call: ConnectionCall): boolean;
}


let nextConnectionId = 1;

export { MAX_PING_WAITERS } from './connection-pings.js';
/** Disconnects that are the connection's failure (its `lastError`), not a close someone asked for. */
const FAILURES: ReadonlySet<DisconnectReason> = new Set<DisconnectReason>(['connect-failed', 'refused', 'unauthenticated', 'heartbeat-timeout', 'socket-error', 'protocol-error', 'too-many-pings']);

/**
 * The consumer's end of one long connection: it connects, shakes hands, then
 * multiplexes calls by request id. Calls made before the handshake completes
 * wait (within their own timeout) and go out once it does. An idle connection
 * pings; a silent provider is declared dead. When the socket closes, every
 * pending call fails at once. After a drain notice it starts no new calls and
 * closes itself once the calls in flight have settled. A one-way call settles
 * when its frame is handed to the socket, or fails if the connection closes
 * first.
 *
 * Every state change goes through `transition()`, which tells the observer:
 * Closing (a close has begun, `disconnectReason` is known) comes before Closed
 * (the socket is gone and every call has settled).
 */
export class ClientConnection implements TransportHandler, HeartbeatLink, CallOwner, ClientHandshakeHost, CallbackLink, PingHost {
  readonly id = nextConnectionId++;
  readonly address: string;
  /** The client's logger bound to this connection (`peer`: the provider's address, `connectionId`): made once, here. */
  readonly log: Logger;
  /** The consumer's callbacks passed to this provider. */
  readonly callbacks: CallbackTable;
  private stateValue = ConnectionState.Connecting;
  private readonly options: ClientConnectionOptions;
  private readonly observer: ConnectionObserver | undefined;
  private readonly transport: Transport;
  private readonly pending = new PendingCalls<ConnectionCall>((call) => this.timeoutCall(call), () => this.syncRef());
  /** Calls made before the handshake completed, in order. */
  private waiting: ConnectionCall[] = [];
  /** One-way calls accepted and not settled yet (waiting for the handshake or for their write). */
  private readonly oneWays = new OneWayCalls();
  /** @internal (CallbackLink) Largest frame the provider accepts (its handshake answer), in bytes; 0 before it. */
  peerMaxFrameSize = 0;
  private connectTimer: NodeJS.Timeout | undefined;
  /** The handshake: credentials, hello, the provider's answer. */
  private readonly handshake: ClientHandshake;
  private heartbeat: Heartbeat | undefined;
  /** Pings the application asked for (`ping()`), waiting for their pongs. */
  private readonly pings = new PingWaiters(() => this.syncRef());
  /** Our pings and their pongs, and the provider's pings answered. */
  private readonly pinging: ConnectionPings;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  /** When the connection was created (clock ms). */
  readonly createdAt = now();
  /** When the last call was made on it (clock ms). */
  lastCallAt = now();
  /** When the provider last pushed to one of our callbacks (clock ms); `createdAt` before the first push. */
  lastPushAt = this.createdAt;
  /** When the handshake completed (clock ms); undefined while it has not (or never did). */
  readyAt: number | undefined;
  /** Round-trip time measured by the last pong, in ms; undefined before the first. */
  rtt: number | undefined;
  /** The ping interval agreed in the handshake, in ms; 0 for none. */
  heartbeatInterval = 0;
  /** The protocol version agreed in the handshake (1 or 2; 0 before it): version 1 carries six-item requests (protocol.md 4.1). */
  protocolVersion = 0;
  /**
   * Why the connection closes: set by the transition to Closing (and to
   * Draining, for the close that will follow it); undefined while open.
   */
  disconnectReason: DisconnectReason | undefined;
  /** Calls settled on this connection (answered, failed, timed out, cancelled; one-way calls once written). */
  callsDone = 0;
  /** Code and message of the last error a call here settled with, or of the connection's failure; undefined when none. */
  lastErrorCode: string | undefined;
  lastErrorMessage = '';
  /** The error this connection failed with (not a close someone asked for); undefined until it closes so. */
  failure: HeartlineError | undefined;

  constructor(options: ClientConnectionOptions, observer?: ConnectionObserver) {
    this.options = options;
    this.observer = observer;
    this.address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
    this.log = withFields(options.logger, { peer: this.address, connectionId: this.id });
    this.callbacks = new CallbackTable(options.maxCallbacks ?? DEFAULT_MAX_CALLBACKS);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    // Plain TCP, or TLS: the handshake frame goes out once the socket is open (after the TLS handshake, if any).
    const socket = connectSocket(options, () => this.handshake.start());
    this.transport = new Transport(socket, { ...options, logger: this.log }, this);
    this.handshake = new ClientHandshake(this, this.transport, options);
    this.pinging = new ConnectionPings(this, this.transport, this.pings, options.maxQueuedBytes);
    this.transport.writer.onFlush = (flushedSeq) => this.settleFlushed(flushedSeq);
    this.syncRef(); // nothing to do yet: an eager connect does not hold the process
    this.connectTimer = setTimeout(() => {
      this.shutdown('connect-failed', new HeartlineError('CONNECT_FAILED', `connect to ${this.address} timed out after ${options.connectTimeout} ms`));
    }, options.connectTimeout);
    this.connectTimer.unref();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** True while new calls may start here. */
  get usable(): boolean {
    const s = this.stateValue;
    return s === ConnectionState.Ready || s === ConnectionState.Connecting || s === ConnectionState.Handshaking;
  }

  /** True while the connection is being opened (TCP connect or handshake). */
  get opening(): boolean {
    return this.stateValue === ConnectionState.Connecting || this.stateValue === ConnectionState.Handshaking;
  }

  /** True once a close has begun (the socket may not have reported it yet). */
  get isClosing(): boolean {
    return this.stateValue === ConnectionState.Closing || this.stateValue === ConnectionState.Closed;
  }

  /** Calls waiting for a response (two-way calls only). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Responses that arrived after their call had timed out. */
  get lateResponses(): number {
    return this.pending.lateResponses;
  }

  lastReadAt(): number {
    return this.transport.lastReadAt;
  }

  /** Bytes read from the socket, frame headers included. */
  get bytesIn(): number {
    return this.transport.bytesIn;
  }

  /** Bytes handed to the socket, frame headers included. */
  get bytesOut(): number {
    return this.transport.bytesOut;
  }

  /** @internal (CallOwner) A call settled here with `err`. */
  callFailed(err: HeartlineError): void {
    this.callsDone++;
    this.lastErrorCode = err.code;
    this.lastErrorMessage = keptMessage(err.message);
  }

  lastWriteAt(): number {
    return this.transport.writer.lastWriteAt;
  }

  /** Sends one ping and resolves with its round-trip time in ms once the pong arrives (see `ConnectionPings.ping`). */
  ping(timeout: number): Promise<number> {
    return this.pinging.ping(timeout);
  }

  /**
   * Sends one call; resolves with the decoded result, or for a one-way call
   * with undefined once its frame is handed to the socket.
   *
   * When `out.signal` fires, the call rejects at once with CANCELLED: one
   * not written yet (waiting for the handshake) is never written; a two-way
   * one already written is followed by a Cancel frame (its late response is
   * counted and dropped); a one-way one already queued may still go out. A
   * signal already aborted: CANCELLED, nothing written.
   */
  call(out: OutgoingCall, at: number = now()): Promise<unknown> {
    return new Promise((resolve, reject) => this.send(out, at, { resolve, reject }));
  }

  /**
   * `call`, its outcome delivered to `sink` (at most once, maybe before this
   * returns) rather than to a promise of its own. `at`: now (clock ms).
   */
  send(out: OutgoingCall, at: number, sink: CallSink): void {
    this.lastCallAt = at;
    const signal = out.signal;
    if (signal?.aborted === true) {
      this.refuse(out, cancelledError(out.label, signal), sink);
      return;
    }
    const call = new ConnectionCall(this, this.pending.nextId(), out, sink);
    const state = this.stateValue;
    // Before any write: a write that fails at once settles the call, which removes the listener.
    if (signal !== undefined && (state === ConnectionState.Ready || state === ConnectionState.Connecting || state === ConnectionState.Handshaking)) {
      watchAbort(signal, call);
    }
    if (state === ConnectionState.Ready) {
      if (out.oneWay) this.oneWays.accept();
      else this.pending.add(call, at);
      this.write(call, out, at);
      // A two-way call refs through the pending table's busy hook; only these change the count otherwise.
      if (out.oneWay || out.fresh !== undefined) this.syncRef();
    } else if (state === ConnectionState.Connecting || state === ConnectionState.Handshaking) {
      if (out.oneWay) this.oneWays.accept();
      else this.pending.add(call, at);
      this.waiting.push(call);
      if (out.oneWay || out.fresh !== undefined) this.syncRef();
    } else {
      const code = state === ConnectionState.Draining ? 'UNAVAILABLE' : 'CONNECTION_LOST_UNWRITTEN';
      this.refuse(out, new HeartlineError(code, `${out.label}: connection to ${this.address} is ${state}`), sink);
    }
  }

  /** A call refused before it was accepted here: its slots back, the callbacks only it registered here forgotten (never sent). */
  private refuse(out: OutgoingCall, err: HeartlineError, sink: CallSink): void {
    if (out.fresh !== undefined) {
      for (const fn of out.fresh) this.callbacks.release(fn);
      out.fresh = undefined;
      this.syncRef();
    }
    out.onSettle?.(out);
    sink.reject(withOrigin(err, out.origin));
  }

  /** Closes the socket now; calls in flight fail (CLIENT_CLOSED for `client-closed`). Resolves once closed. */
  close(reason: DisconnectReason = 'client-closed'): Promise<void> {
    const err = reason === 'client-closed'
      ? new HeartlineError('CLIENT_CLOSED', 'the client was closed')
      : new HeartlineError('CONNECTION_LOST_UNWRITTEN', `connection closed (${reason})`);
    this.shutdown(reason, err);
    return this.closedPromise;
  }

  /**
   * Stops new calls here and closes once the calls in flight have settled
   * (the provider left the provider list). Used by the endpoint.
   */
  retire(reason: DisconnectReason): void {
    if (this.opening) {
      void this.close(reason);
      return;
    }
    if (this.transition(ConnectionState.Draining, reason)) this.closeIfDrained();
  }

  /** @internal (ClientHandshakeHost, PingHost) Destroys the socket; the first close to begin gives the reason. */
  shutdown(kind: DisconnectReason, err: HeartlineError): void {
    const s = this.stateValue;
    if (s === ConnectionState.Closed) return;
    // Already Closing (a drained close waiting for the peer's FIN): keep its reason, but destroy now.
    if (s !== ConnectionState.Closing) this.transition(ConnectionState.Closing, kind);
    this.transport.destroy(err);
  }

  /**
   * Queues the call's frame: a six-item copy of the body on a version-1
   * connection; else the budget item set, in place, to the ms left (the
   * caller gives every attempt a body no queued frame holds). A call whose
   * time is already up is not written, whatever the version: TIMEOUT.
   */
  private write(call: ConnectionCall, out: OutgoingCall, at: number): void {
    let body = out.body;
    if (out.deadline !== Infinity) {
      // Whatever the version: a one-way call waiting for the handshake has no response timer to end it.
      const left = out.deadline - at;
      if (left <= 0) {
        this.failOne(call, out, new HeartlineError('TIMEOUT', `${out.label}: its time ran out before the request was written to ${this.address}`));
        return;
      }
      if (this.protocolVersion !== 1) writeBudget(body, left);
    }
    if (this.protocolVersion === 1) body = asVersion1Request(body, out.deadline !== Infinity);
    if (HEADER_SIZE + body.length > this.peerMaxFrameSize) {
      this.failOne(call, out, new HeartlineError('PAYLOAD_TOO_LARGE', `${out.label}: request of ${HEADER_SIZE + body.length} bytes is over the provider's limit of ${this.peerMaxFrameSize} bytes`));
      return;
    }
    const seq = this.transport.send(out.oneWay ? FLAGS.callOneWay : FLAGS.callTwoWay, 0, FrameType.Call, call.id, body);
    if (seq === 0) {
      const err = this.transport.writer.isClosed
        ? new HeartlineError('CONNECTION_LOST_UNWRITTEN', `${out.label}: connection to ${this.address} is closing`)
        : new HeartlineError('LIMIT_EXCEEDED', `${out.label}: more than ${this.options.maxQueuedBytes} bytes are waiting to be written to ${this.address}`);
      this.failOne(call, out, err);
      return;
    }
    call.seq = seq;
    // A one-way call settles once its frame reaches the socket (settleFlushed) or the connection closes (onClose).
    if (out.oneWay) this.oneWays.queue(call);
  }

  /** The writer handed every frame up to `flushedSeq` to the socket: one-way calls among them are done. */
  private settleFlushed(flushedSeq: number): void {
    if (this.oneWays.flushed(flushedSeq)) this.syncRef();
  }

  /** @internal The call's signal fired: reject it with CANCELLED, and tell the provider if it has the request. */
  cancel(call: ConnectionCall): void {
    const out = call.request;
    const err = cancelledError(out.label, out.signal);
    if (out.oneWay) {
      if (call.done) return;
      this.forgetUnwritten(call);
      this.oneWays.settle(call, err); // a frame already queued may still go out: nothing can take it back
      this.syncRef();
      return;
    }
    if (!this.pending.fail(call, err)) return;
    if (call.seq !== 0 && !this.transport.isClosed) this.transport.send(FLAGS.cancel, 0, FrameType.Cancel, call.id);
    this.forgetUnwritten(call);
    this.closeIfDrained();
  }

  private failOne(call: ConnectionCall, out: OutgoingCall, err: HeartlineError): void {
    this.forgetUnwritten(call);
    if (out.oneWay) {
      this.oneWays.settle(call, err);
      this.syncRef();
    } else {
      this.pending.fail(call, err);
    }
    this.closeIfDrained();
  }

  private timeoutCall(call: ConnectionCall): void {
    const err = new HeartlineError('TIMEOUT', `${call.request.label}: no response from ${this.address} within ${call.request.timeout} ms`);
    if (!this.pending.fail(call, err)) return;
    // Tell the provider it may drop the call; the response, if it still comes, is counted as late.
    if (call.seq !== 0 && !this.transport.isClosed) this.transport.send(FLAGS.cancel, 0, FrameType.Cancel, call.id);
    this.forgetUnwritten(call);
    this.closeIfDrained();
  }

  /** A call that failed before it was written: forget the callbacks only it had registered here. */
  private forgetUnwritten(call: ConnectionCall): void {
    const out = call.request;
    if (call.seq !== 0 || out.fresh === undefined) return;
    for (const fn of out.fresh) this.callbacks.release(fn); // never sent: no Release frame
    out.fresh = undefined;
    this.syncRef();
  }

  /** @internal (ClientHandshakeHost) */
  startHandshaking(): boolean {
    return this.transition(ConnectionState.Handshaking);
  }

  /** @internal (ClientHandshakeHost) The provider accepted: its terms taken, Ready, then what waited for the handshake goes out. */
  handshakeAnswered(answer: HandshakeResponse): void {
    this.peerMaxFrameSize = answer.maxFrameSize;
    this.protocolVersion = answer.version;
    // Already clamped to [HEARTBEAT_FLOOR, MAX_TIMER_MS] (or 0) by readAnswer.
    this.heartbeatInterval = answer.heartbeat;
    this.pinging.agreed(answer.heartbeat);
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (!this.transition(ConnectionState.Ready)) return;
    if (answer.heartbeat > 0) {
      this.heartbeat = new Heartbeat(this, { pingInterval: answer.heartbeat, deadAfter: answer.heartbeat * this.options.heartbeatMisses }, this.options.timers ?? new TimerWheel());
      this.heartbeat.start();
    }
    const waiting = this.waiting;
    this.waiting = [];
    for (const call of waiting) {
      // A waiting call may have timed out or been cancelled already; one-way calls are never in the table.
      if (this.isLive(call)) this.write(call, call.request, now());
    }
    this.pinging.sendQueued();
  }

  // HeartbeatLink
  sendPing(): void {
    this.pinging.sendPing();
  }

  peerDead(silentMs: number): void {
    this.log.warn({}, `provider ${this.address} silent for ${Math.round(silentMs)} ms: heartbeat timeout, closing`);
    this.shutdown('heartbeat-timeout', new HeartlineError('CONNECTION_LOST_WRITTEN', `heartbeat timeout: nothing received for ${Math.round(silentMs)} ms`));
  }

  onFrame(header: FrameHeader, body: Buffer): void {
    if (header.type === FrameType.Handshake) {
      this.handshake.finish(header, body);
      return;
    }
    if (this.stateValue === ConnectionState.Connecting || this.stateValue === ConnectionState.Handshaking) {
      // B5: the handshake response comes first; a response before it must not settle any call.
      this.protocolError(`frame of type ${header.type} before the handshake response`);
      return;
    }
    switch (header.type) {
      case FrameType.Call:
        if (isRequest(header.flags)) runCallback(this, header, body);
        else this.settle(header, body);
        return;
      case FrameType.Heartbeat:
        if (isRequest(header.flags)) this.pinging.answerPing(header.id);
        else this.pinging.pong(header.id);
        return;
      case FrameType.Drain: {
        const notice = readDrainBody(body);
        if (notice === undefined) return this.protocolError('malformed drain body');
        // reconnect: only this connection drains (its credentials expired); the owner opens another for new calls.
        if (this.transition(ConnectionState.Draining, notice.reconnect ? 'credentials-expired' : 'drain')) this.closeIfDrained();
        else if (!notice.reconnect && this.stateValue === ConnectionState.Draining && this.disconnectReason === 'credentials-expired') this.providerDrains();
        return;
      }
      case FrameType.Cancel:
        this.protocolError('a provider sent a cancel');
        return;
      case FrameType.Release:
        this.protocolError('a provider sent a release');
        return;
    }
  }

  /**
   * Forgets `fn` on this connection and tells the provider (a Release frame),
   * so its proxy is released at once and stops counting against its
   * `maxCallbacks`. Returns true if `fn` was registered here.
   */
  releaseCallback(fn: Function): boolean {
    const id = this.callbacks.release(fn);
    if (id === undefined) return false;
    this.syncRef();
    const s = this.stateValue;
    if (s === ConnectionState.Ready || s === ConnectionState.Draining) this.transport.send(FLAGS.release, 0, FrameType.Release, id);
    return true;
  }

  /** @internal (PingHost) */
  ponged(rtt: number): void {
    this.rtt = rtt;
    this.observer?.onPong?.(this, this.rtt);
  }

  private settle(header: FrameHeader, body: Buffer): void {
    const call = this.pending.take(header.id);
    if (call === undefined) return;
    let value: unknown;
    try {
      value = readResponse(header.status, body);
    } catch (err) {
      // Either refusal of the codec, in any response: a protocol error (protocol.md 8).
      call.reject(withOrigin(new HeartlineError('PROTOCOL_ERROR', `${call.request.label}: undecodable response body`, { cause: err }), call.request.origin));
      this.protocolError('undecodable response body');
      return;
    }
    if (value instanceof HeartlineError) {
      const crossedExpiry = value.code === 'UNAVAILABLE' && this.disconnectReason === 'credentials-expired';
      if (!crossedExpiry || this.observer?.resendRefused?.(this, call) !== true) call.reject(withOrigin(value, call.request.origin));
    } else {
      call.resolve(value);
    }
    if (this.stateValue === ConnectionState.Draining) this.closeIfDrained();
  }

  /** @internal (CallbackLink) */
  get socketClosed(): boolean {
    return this.transport.isClosed;
  }

  /** @internal (CallbackLink) */
  sendCallbackResponse(id: number, status: number, body: Buffer): void {
    this.transport.send(FLAGS.response, status, FrameType.Call, id, body);
  }

  onOversize(header: FrameHeader): void {
    if (header.type === FrameType.Call && !isRequest(header.flags)) {
      const call = this.pending.take(header.id);
      call?.reject(withOrigin(new HeartlineError('PAYLOAD_TOO_LARGE', `${call.request.label}: response of ${header.length} bytes is over this consumer's limit of ${this.options.maxFrameSize} bytes`), call.request.origin));
      return;
    }
    if (header.type === FrameType.Call) {
      refuseOversizedCallback(this, header);
      return;
    }
    this.protocolError(`oversized frame of type ${header.type}`);
  }

  onClose(reason: HeartlineError | undefined): void {
    this.heartbeat?.cancel();
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const neverReady = this.readyAt === undefined;
    if (this.stateValue !== ConnectionState.Closing) {
      // Nobody here began this close: the socket failed or the peer closed it.
      const kind: DisconnectReason = neverReady ? 'connect-failed' : reason?.code === 'PROTOCOL_ERROR' ? 'protocol-error' : reason !== undefined ? 'socket-error' : 'closed-by-peer';
      this.transition(ConnectionState.Closing, kind);
    }
    const waiting = this.waiting;
    this.waiting = [];
    // Calls that never got a connection fail with the reason itself when it says more than
    // "could not connect": the client closed, or the provider refused the handshake.
    let unsent: HeartlineError | undefined;
    if (reason?.code === 'CLIENT_CLOSED' || reason?.code === 'CONNECT_FAILED' || reason?.code === 'UNAUTHENTICATED' || reason?.remote === true) unsent = reason;
    else if (neverReady) unsent = new HeartlineError('CONNECT_FAILED', `could not connect to ${this.address}: ${reason?.message ?? 'closed during handshake'}`, { cause: reason });
    // Not after UNAUTHENTICATED: the calls fail with it (another connection would present the same credentials).
    if (neverReady && reason?.code !== 'CLIENT_CLOSED' && reason?.code !== 'UNAUTHENTICATED' && waiting.length > 0 && this.observer?.adoptUnsent !== undefined) {
      // Nothing was written here: let the owner send these calls on a connection that works.
      const live = waiting.filter((call) => this.isLive(call));
      this.pending.takeAll();
      const oneWays = live.filter((call) => call.request.oneWay);
      for (const call of oneWays) if (call.request.signal !== undefined) unwatchAbort(call.request.signal, call);
      if (this.observer.adoptUnsent(this, live)) {
        for (const call of oneWays) call.done = true; // settled by the connection that took it over
        waiting.length = 0;
      } else {
        for (const call of live) if (!call.request.oneWay) this.pending.add(call);
      }
    }
    if (unsent !== undefined) this.pending.failAllWith(unsent);
    else this.pending.failAll((seq) => this.transport.writer.wasWritten(seq), `connection to ${this.address} lost${reason ? `: ${reason.message}` : ''}`, reason);
    for (const call of waiting) {
      const out = call.request;
      if (!out.oneWay) continue;
      const err = unsent ?? new HeartlineError('CONNECTION_LOST_UNWRITTEN', `connection to ${this.address} closed`);
      this.oneWays.settle(call, new HeartlineError(err.code, `${out.label}: ${err.message}`, { cause: err }));
    }
    // One-way calls queued in the writer but never handed to the socket.
    for (const call of this.oneWays.takeQueued()) {
      const code = reason?.code === 'CLIENT_CLOSED' ? 'CLIENT_CLOSED' : 'CONNECTION_LOST_UNWRITTEN';
      this.oneWays.settle(call, new HeartlineError(code, `${call.request.label}: connection to ${this.address} closed before the request was written`, { cause: reason }));
    }
    this.oneWays.open = 0;
    if (this.pings.size > 0) this.pings.failAll(unsent ?? new HeartlineError('CONNECTION_LOST_WRITTEN', `ping: connection to ${this.address} lost${reason ? `: ${reason.message}` : ''}`, { cause: reason }));
    this.callbacks.clear();
    // Last, so that it names the failure rather than the calls it failed.
    if (reason !== undefined && FAILURES.has(this.disconnectReason!)) {
      this.failure = unsent ?? reason;
      this.lastErrorCode = reason.code;
      this.lastErrorMessage = keptMessage(reason.message);
    }
    this.transition(ConnectionState.Closed);
    this.resolveClosed();
  }

  /**
   * The socket keeps the process alive while this connection has work: a
   * two-way call pending (or waiting for the handshake), a one-way call not
   * yet written, a ping waiting for its pong, or a live callback (a
   * subscriber expects pushes). Otherwise,
   * unless `keepProcessAlive`, it lets the process exit, as every timer here
   * does. O(1): three counts, no scan.
   */
  private syncRef(): void {
    if (this.options.keepProcessAlive === true) return;
    if (this.pending.size > 0 || this.oneWays.open > 0 || this.callbacks.size > 0 || this.pings.size > 0) this.transport.ref();
    else this.transport.unref();
  }

  /** A call accepted here that has not settled. */
  private isLive(call: ConnectionCall): boolean {
    return call.request.oneWay ? !call.done : this.pending.has(call);
  }

  /** After a drain notice, close once nothing is pending (the provider waits for us). */
  private closeIfDrained(): void {
    if (this.stateValue === ConnectionState.Draining && this.pending.size === 0) {
      this.transition(ConnectionState.Closing, this.disconnectReason ?? 'drain');
      this.transport.end();
    }
  }

  /**
   * Draining for its credentials, this connection now hears the provider
   * drain itself (it shuts down): the state stays Draining, the reason
   * becomes 'drain', and the owner is told (Draining to Draining) so that it
   * stops sending calls to this provider, as for any provider drain.
   */
  private providerDrains(): void {
    this.disconnectReason = 'drain';
    this.observer?.onStateChange(this, ConnectionState.Draining, ConnectionState.Draining);
  }

  /** @internal (ClientHandshakeHost, CallbackLink) */
  protocolError(message: string): void {
    const err = new HeartlineError('PROTOCOL_ERROR', message);
    this.log.warn({ err }, `protocol error from ${this.address}: ${message}; closing this connection`);
    this.shutdown('protocol-error', err);
  }

  /** The one gate for state changes: checks the step, records what comes with it, tells the observer. */
  private transition(to: ConnectionState, reason?: DisconnectReason): boolean {
    const from = this.stateValue;
    if (!canTransition(from, to)) return false;
    this.stateValue = to;
    if (reason !== undefined) this.disconnectReason = reason;
    if (to === ConnectionState.Ready) this.readyAt = now();
    this.observer?.onStateChange(this, from, to);
    return true;
  }
}
