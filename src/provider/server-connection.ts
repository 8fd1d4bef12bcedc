import type { Socket } from 'node:net';
import { HeartlineError } from '../errors/heartline-error.js';
import { keptMessage } from '../errors/kept-message.js';
import { ConnectionState, canTransition, type DisconnectReason } from '../exchange/connection-state.js';
import { Heartbeat, type HeartbeatLink } from '../exchange/heartbeat.js';
import { IdTable } from '../exchange/id-table.js';
import { PingGuard } from '../exchange/ping-guard.js';
import type { TimerWheel } from '../exchange/timer-wheel.js';
import { channels, type RefusedLimit } from '../context/channels.js';
import { encodeValue, errorResponse, failureCode, failureMessage, type EncodedResponse } from '../exchange/responder.js';
import { encodeBody } from '../protocol/codec.js';
import { FrameType, HEADER_SIZE, MIN_MAX_FRAME_SIZE } from '../protocol/constants.js';
import { FLAGS, isRequest, isTwoWay, type FrameHeader } from '../protocol/frame.js';
import type { HandshakeRequest, HandshakeResponse } from '../protocol/messages.js';
import { now } from '../transport/clock.js';
import type { Logger } from '../transport/logger.js';
import { logErr, withFields } from '../transport/log-fields.js';
import { peerName, Transport, type TransportHandler } from '../transport/transport.js';
import type { PeerTls } from '../transport/secure-socket.js';
import type { Authenticate, Authenticated } from './authentication.js';
import { CallbackProxies } from './callback-proxies.js';
import { CredentialsExpiry, type ExpiryLink } from './credentials-expiry.js';
import { CallbackPushes, type PushLink } from './callback-pushes.js';
import { encodeFailure, keepsRefusalCode, outcomeCode } from './call-outcome.js';
import { serveCall, type CallHost } from './call-pipeline.js';
import { decodeRequest, findMethod } from './inbound-request.js';
import { IncomingCall } from './server-call.js';
import { ServerHandshake, type HandshakeHost } from './server-handshake.js';
import type { ServiceRegistry } from './service-registry.js';

/** Resolved options of one provider connection (see `ServerOptions` for the documented defaults). */
export interface ServerConnectionOptions {
  maxFrameSize: number;
  maxQueuedBytes: number;
  /** Bodies over this many bytes go out as fragments, if the consumer offers them (`fragmentSize`); 0 none. */
  fragmentSize: number;
  keepAliveDelay: number;
  exposeStack: boolean;
  /** Run interceptors and handlers inside their call's scope (`currentCall()`, inherited deadlines). */
  callScope: boolean;
  /** Close a connection silent for this long, in ms; 0 never. */
  idleTimeout: number;
  /** Shortest ping interval granted to consumers, in ms. */
  minHeartbeat: number;
  /** Timeout of pushes to consumer callbacks, in ms. */
  callbackTimeout: number;
  /** Calls executing at once on this connection; more are answered LIMIT_EXCEEDED. */
  maxConcurrentCalls: number;
  /** Live callback proxies on this connection; a call adding more is answered LIMIT_EXCEEDED. */
  maxCallbacks: number;
  /** Close the connection if its handshake is not done within this long, in ms. */
  handshakeTimeout: number;
  /** The server's `authenticate` hook; undefined: every consumer is accepted, anonymous. */
  authenticate: Authenticate | undefined;
  /** How long calls in flight may finish after a drain for expired credentials, in ms. */
  closeGracePeriod: number;
  logger: Logger;
  /** The server's timer wheel: it drives this connection's idle clock. */
  timers: TimerWheel;
}

/** What a connection asks of and tells its server (the `Server` itself: `server` in channel messages). */
export interface ServerConnectionHooks {
  /** Called at handshake: an error refuses the connection (for example, `accepts`). */
  admit(conn: ServerConnection): HeartlineError | undefined;
  onReady(conn: ServerConnection): void;
  onClose(conn: ServerConnection, reason: DisconnectReason): void;
  /** A call's response was not sent: the call was cancelled, or its deadline had passed, before it finished. */
  responseDropped(conn: ServerConnection): void;
}


let nextId = 1;

/** `displaced` of a connection whose peer never reused a running call's id (all but hostile ones): shared, never written. */
const NONE_DISPLACED = new Set<IncomingCall>();

/** A socket's 'drain' listener: reading resumes (one function for every connection). */
function resumeSocket(this: Socket): void {
  this.resume();
}

/**
 * The provider's end of one connection: it answers the handshake (agreeing the
 * heartbeat), answers pings first, pushes to consumer callbacks, and closes
 * the connection when it has been silent past the idle timeout. For calls it
 * keeps to the frame and connection concerns: it guards the connection
 * (draining, `maxConcurrentCalls`), hands each request to the stages (decode:
 * inbound-request.ts; context: server-call.ts; interceptors, limits and
 * handler: call-pipeline.ts), keeps the table of calls executing (a Cancel
 * frame or the connection closing aborts them), and writes the encoded
 * outcome. Nothing a peer sends, and nothing a handler does, throws out of here.
 */
export class ServerConnection implements TransportHandler, HeartbeatLink, CallHost, PushLink, ExpiryLink, HandshakeHost {
  readonly id = nextId++;
  readonly createdAt = now();
  private readonly transport: Transport;
  private readonly registry: ServiceRegistry;
  private readonly options: ServerConnectionOptions;
  private readonly hooks: ServerConnectionHooks;
  private stateValue = ConnectionState.Handshaking;
  /** @internal Largest frame the consumer accepts (its handshake), in bytes. */
  peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  /** The latest call executing under each request id: what a Cancel frame names. */
  /**
   * The calls executing, by request id. An IdTable clears its reference to a
   * call at delete: a Map kept deleted values reachable until its next rehash,
   * long enough for them to be promoted with their requests (90 MB promoted per
   * 200k calls against 11 MB, `node --trace-gc-nvp` on bench/provider-cpu.ts),
   * which a slot per call used to prevent; it also allocates nothing per call.
   */
  private readonly executions = new IdTable<IncomingCall>();
  /**
   * Calls still executing whose request id a later call took (a peer may reuse
   * the id of a call still running: a one-way call's id is free at once). A
   * Cancel frame no longer names them, but the connection closing or the grace
   * period ending must still abort them. Empty but for such a peer: the calls
   * executing are `executions` and these (no per-call Set entry); the Set is
   * made at the first such call.
   */
  private displaced: Set<IncomingCall> = NONE_DISPLACED;
  /** Pushes to consumer callbacks awaiting their answer: made at the first push (most connections never push). */
  private pushes: CallbackPushes | undefined;
  private readonly closeWaiters: Array<() => void> = [];
  private readonly heartbeat: Heartbeat;
  /** Rate limit on the consumer's pings (A2); set for the agreed heartbeat at the handshake. */
  private pingGuard = new PingGuard(0);
  private closeKind: DisconnectReason | undefined;
  /** The handshake: its request read, admission, `authenticate`, the answer; its timer. */
  private readonly handshake: ServerHandshake;
  readonly callbacks: CallbackProxies;
  /** The server's logger bound to this connection (`peer`, `connectionId`): made once, here. @internal (AuthorizationHost, HandshakeHost) */
  readonly log: Logger;
  /** Ping interval granted to the consumer, in ms. */
  heartbeatInterval = 0;
  /** @internal Who the consumer is (`authenticate`'s principal): every call on this connection carries it. Never listed. */
  principal: unknown = undefined;
  /** True once the server's `authenticate` accepted this consumer. */
  authenticated = false;
  /** The credentials' expiry clocks, when `authenticate` gave an `expiresAt`. */
  private expiry: CredentialsExpiry | undefined;
  /** Calls answered (or, one-way, finished) on this connection, refusals included. */
  callsDone = 0;
  /** Code and message of the last error a call here was answered with, or of the connection's failure; undefined when none. */
  lastErrorCode: string | undefined;
  lastErrorMessage = '';

  constructor(socket: Socket, registry: ServiceRegistry, options: ServerConnectionOptions, hooks: ServerConnectionHooks) {
    this.registry = registry;
    this.options = options;
    this.hooks = hooks;
    this.log = withFields(options.logger, { peer: peerName(socket), connectionId: this.id });
    this.transport = new Transport(socket, { ...options, logger: this.log }, this);
    this.callbacks = new CallbackProxies((id, args) => this.push(id, args), options.maxCallbacks, this.log);
    socket.on('drain', resumeSocket);
    // The provider never pings; it only notices silence (a consumer pings at most every idleTimeout / 3).
    this.heartbeat = new Heartbeat(this, { pingInterval: 0, deadAfter: options.idleTimeout }, options.timers);
    this.heartbeat.start();
    this.handshake = new ServerHandshake(this, this.transport, options);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get peer(): string {
    return this.transport.peer;
  }

  /** Over TLS, what the TLS handshake said of the consumer (its certificate under mutual TLS); undefined over plain TCP. */
  get tls(): PeerTls | undefined {
    return this.transport.tls;
  }

  /** Calls being executed for this connection. */
  get inFlight(): number {
    return this.executions.size + this.displaced.size;
  }

  /** Every call executing (a copy: aborting one settles it, which removes it from the tables). */
  private runningCalls(): IncomingCall[] {
    const running = this.executions.values().sort((a, b) => a.id - b.id);
    return this.displaced.size === 0 ? running : [...this.displaced, ...running];
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

  /** A call, or a request refused before it became one, ended with an error: counted and kept as `lastError`. */
  private failed(code: string, message: string): void {
    this.callsDone++;
    this.lastErrorCode = code;
    this.lastErrorMessage = keptMessage(message);
  }

  lastWriteAt(): number {
    return this.transport.writer.lastWriteAt;
  }

  sendPing(): void {
    // never called: pingInterval is 0
  }

  peerDead(silentMs: number): void {
    this.closeKind ??= 'heartbeat-timeout';
    this.log.warn({}, `consumer ${this.peer} silent for ${Math.round(silentMs)} ms: closing its connection`);
    this.transport.destroy(new HeartlineError('CONNECTION_LOST_WRITTEN', 'idle timeout'));
  }

  /**
   * @internal In its handshake and waiting for nothing but its consumer: it
   * has not sent a complete handshake request yet, or it was refused and its
   * consumer has not closed. The server sheds such a connection first when
   * `maxPendingHandshakes` are pending (not one whose `authenticate` is deciding).
   */
  get sheddable(): boolean {
    return this.stateValue === ConnectionState.Handshaking || (this.stateValue === ConnectionState.Authenticating && this.closeKind !== undefined);
  }

  /**
   * @internal Closed, unanswered, to make room for a newer connection
   * (`maxPendingHandshakes`); see `sheddable`. Its disconnect reason is
   * 'handshake-timeout' (or its refusal's, when it was refused).
   */
  shed(): void {
    this.closeKind ??= 'handshake-timeout';
    this.transport.destroy(new HeartlineError('CONNECT_FAILED', 'shed: maxPendingHandshakes connections were in their handshake'));
  }

  /**
   * Sends the drain notice (body `{ reason, deadline }`, `deadline` being the
   * grace period in ms): the consumer starts no new calls and closes once its
   * calls settle.
   */
  drain(gracePeriod: number): void {
    if (this.handshaking) {
      this.closeKind ??= 'drain';
      this.transport.end();
      return;
    }
    // Already draining for its credentials (reconnect: true): the consumer must hear that the provider itself goes now.
    const forCredentials = this.stateValue === ConnectionState.Draining && this.closeKind === 'credentials-expired';
    if (this.transition(ConnectionState.Draining) || forCredentials) {
      this.transport.send(FLAGS.drain, 0, FrameType.Drain, 0, encodeBody({ reason: 'shutting down', deadline: gracePeriod }));
    }
  }

  /** True while the handshake is in progress (its request awaited, or `authenticate` deciding). */
  get handshaking(): boolean {
    return this.stateValue === ConnectionState.Handshaking || this.stateValue === ConnectionState.Authenticating;
  }

  /**
   * @internal (ExpiryLink) The credentials expired: drain this connection
   * only (`reconnect: true`, so the consumer opens a new one with fresh
   * credentials for new calls); calls in flight have `closeGracePeriod` to
   * finish, then it is closed.
   */
  credentialsExpired(): void {
    if (!this.transition(ConnectionState.Draining)) return;
    this.closeKind ??= 'credentials-expired';
    const grace = this.options.closeGracePeriod;
    this.log.warn({}, `consumer ${this.peer}: its credentials expired; draining its connection`);
    this.transport.send(FLAGS.drain, 0, FrameType.Drain, 0, encodeBody({ reason: 'credentials expired', deadline: grace, reconnect: true }));
    this.expiry?.startGrace(grace);
  }

  /** @internal (ExpiryLink) The grace period after an expiry drain ended: the calls still running are aborted, the connection closed. */
  expiryGraceOver(): void {
    if (this.stateValue === ConnectionState.Closed) return;
    if (this.inFlight > 0) this.abortCalls(new HeartlineError('UNAUTHENTICATED', "the connection's credentials expired and its grace period ended"));
    this.transport.destroy();
  }

  /** Calls `callback` once the socket is closed (at once if it already is). */
  onceClosed(callback: () => void): void {
    if (this.stateValue === ConnectionState.Closed) callback();
    else this.closeWaiters.push(callback);
  }

  destroy(reason: DisconnectReason = 'client-closed'): void {
    this.closeKind ??= reason;
    this.transport.destroy();
  }

  onFrame(header: FrameHeader, body: Buffer): void {
    if (this.stateValue === ConnectionState.Handshaking) {
      this.handshake.handshake(header, body);
      return;
    }
    // A consumer waits for the handshake answer before it sends anything (protocol.md 1).
    if (this.stateValue === ConnectionState.Authenticating) return this.protocolError('a frame before the handshake answer');
    switch (header.type) {
      case FrameType.Call:
        if (isRequest(header.flags)) this.dispatch(header, body);
        else this.pushes?.settle(header.id, header.status, body);
        return;
      case FrameType.Heartbeat:
        if (isRequest(header.flags)) this.answerPing(header.id);
        return; // a pong: the provider never pings, nothing to match
      case FrameType.Cancel:
        // Fires the handler's signal; the response is not sent. An unknown id (a finished call) is ignored.
        this.executions.get(header.id)?.abort(new HeartlineError('CANCELLED', 'the caller cancelled this call'));
        return;
      case FrameType.Release:
        this.callbacks.release(header.id); // the consumer no longer serves this callback; unknown ids are ignored
        return;
      case FrameType.Drain:
        return this.protocolError('a consumer sent a drain');
      case FrameType.Handshake:
        return this.protocolError(isRequest(header.flags) ? 'second handshake' : 'a consumer sent a handshake response');
    }
  }

  /** A consumer's ping: a pong ahead of other frames, within the rate limit (PING_BURST, then one per heartbeat / 2). */
  private answerPing(id: number): void {
    if (!this.pingGuard.allow()) {
      this.closeKind ??= 'too-many-pings';
      this.log.warn({}, `consumer ${this.peer} sends pings faster than the heartbeat allows; closing its connection`);
      this.transport.destroy(new HeartlineError('PROTOCOL_ERROR', 'too many pings'));
      return;
    }
    if (this.transport.sendUrgent(FLAGS.pong, FrameType.Heartbeat, id) === 0 && !this.transport.writer.isClosed) {
      // The write bound is reached: the consumer does not read what we send.
      this.log.warn({}, `consumer ${this.peer} is not reading; closing its connection`);
      this.transport.destroy(new HeartlineError('LIMIT_EXCEEDED', 'write queue bound reached'));
    }
  }

  onOversize(header: FrameHeader): void {
    if (!this.handshaking && header.type === FrameType.Call) {
      if (isRequest(header.flags)) {
        const message = `request of ${HEADER_SIZE + header.length} bytes is over this provider's limit of ${this.options.maxFrameSize} bytes`;
        this.failed('PAYLOAD_TOO_LARGE', message);
        if (isTwoWay(header.flags)) this.respond(header.id, errorResponse('PAYLOAD_TOO_LARGE', message));
      } else {
        this.pushes?.oversize(header.id);
      }
      return;
    }
    this.protocolError(`oversized frame of type ${header.type}`);
  }

  onClose(reason: HeartlineError | undefined): void {
    const from = this.stateValue;
    this.transition(ConnectionState.Closed);
    this.heartbeat.cancel();
    this.expiry?.cancel();
    this.handshake.cancel();
    if (this.inFlight > 0) {
      const lost = new HeartlineError('CONNECTION_LOST_WRITTEN', 'the consumer connection closed');
      for (const call of this.runningCalls()) call.abort(lost);
    }
    this.pushes?.failAll((seq) => this.transport.writer.wasWritten(seq), reason);
    this.callbacks.releaseAll();
    // Last, so that it names the connection's failure rather than the calls it aborted.
    if (reason !== undefined) {
      this.lastErrorCode = reason.code;
      this.lastErrorMessage = keptMessage(reason.message);
    }
    const kind = this.closeKind ?? (reason?.code === 'PROTOCOL_ERROR' ? 'protocol-error' : reason !== undefined ? 'socket-error' : from === ConnectionState.Draining ? 'drain' : 'closed-by-peer');
    this.hooks.onClose(this, kind);
    for (const wake of this.closeWaiters.splice(0)) wake();
  }

  /** @internal (HandshakeHost) */
  admitHandshake(): HeartlineError | undefined {
    return this.hooks.admit(this);
  }

  /** @internal (HandshakeHost) */
  startAuthenticating(): void {
    this.transition(ConnectionState.Authenticating);
  }

  /** @internal (HandshakeHost) The handshake succeeds: calls may come. */
  handshakeAccepted(request: HandshakeRequest, terms: HandshakeResponse, auth: Authenticated | undefined): void {
    this.peerMaxFrameSize = request.maxFrameSize;
    this.heartbeatInterval = terms.heartbeat;
    this.pingGuard = new PingGuard(terms.heartbeat);
    if (auth !== undefined) {
      this.authenticated = true;
      this.principal = auth.principal;
      if (auth.expiresAt !== undefined) {
        this.expiry = new CredentialsExpiry(this, auth.expiresAt);
        this.expiry.start();
      }
    }
    this.transition(ConnectionState.Ready);
  }

  /** @internal (HandshakeHost) */
  handshakeAnswered(): void {
    this.hooks.onReady(this);
  }

  /** @internal (HandshakeHost) */
  closing(kind: DisconnectReason, err?: HeartlineError): void {
    this.closeKind ??= kind;
    if (err === undefined) return;
    this.lastErrorCode = err.code;
    this.lastErrorMessage = keptMessage(err.message);
  }

  /**
   * Fires the signal of every call still executing with `reason` (the
   * server's grace period ended: SERVER_CLOSED); their responses are not sent.
   */
  abortCalls(reason: HeartlineError): void {
    for (const call of this.runningCalls()) call.abort(reason);
  }

  private dispatch(header: FrameHeader, body: Buffer): void {
    const id = header.id;
    const twoWay = isTwoWay(header.flags);
    const request = decodeRequest(body, this.registry.names);
    if (request instanceof HeartlineError) {
      // Valid MessagePack we refuse: answered (two-way) or dropped, the connection stays; malformed: close.
      if (request.code === 'PROTOCOL_ERROR') return this.protocolError(request.message);
      this.log.warn({ err: request }, `request ${id} from ${this.peer} refused: ${request.message}`);
      this.failed('BAD_REQUEST', request.message);
      if (twoWay) this.respond(id, errorResponse('BAD_REQUEST', request.message));
      return;
    }
    // One-way calls that crossed the drain still run (nothing tells their caller otherwise); two-way ones are retried elsewhere.
    if (this.stateValue === ConnectionState.Draining && twoWay) {
      this.failed('UNAVAILABLE', 'provider is draining');
      this.respond(id, errorResponse('UNAVAILABLE', 'provider is draining'));
      return;
    }
    if (this.inFlight >= this.options.maxConcurrentCalls) {
      const message = `this connection is executing its limit of ${this.options.maxConcurrentCalls} calls`;
      this.failed('LIMIT_EXCEEDED', message);
      if (channels.serverRefuse.hasSubscribers) channels.serverRefuse.publish({ server: this.hooks, limit: 'maxConcurrentCalls', peer: this.peer, call: undefined });
      if (twoWay) this.respond(id, errorResponse('LIMIT_EXCEEDED', message));
      else this.log.warn({ service: request[0], method: request[3] }, `one-way call dropped: consumer ${this.peer} is executing its limit of ${this.options.maxConcurrentCalls} calls`);
      return;
    }
    // Received when its last bytes were read (this frame was cut from that chunk): no clock read per call.
    const call = new IncomingCall(id, request, this, !twoWay, this.transport.lastReadAt);
    const method = findMethod(this.registry, call, this.registry.names.lastHit);
    // Registered first: a synchronous handler settles inside serveCall().
    const earlier = this.executions.get(id);
    if (earlier !== undefined) (this.displaced === NONE_DISPLACED ? (this.displaced = new Set()) : this.displaced).add(earlier);
    this.executions.set(id, call);
    if (channels.serverCallStart.hasSubscribers) channels.serverCallStart.publish({ call, server: this.hooks });
    if (method instanceof HeartlineError) return this.settle(call, true, method);
    // The caller has no time left: answered at once, nothing runs.
    if (call.budgetSpent) return this.settle(call, true, new HeartlineError('DEADLINE_EXCEEDED', `${call.service}#${call.method}: the caller's budget was spent before the call arrived`));
    serveCall(call, method, this, this.options.callScope);
  }

  /**
   * The call's outcome, published, logged when user code failed, and
   * answered (two-way, encode stage: call-outcome.ts) unless nobody waits for
   * it any more (cancelled, deadline passed, connection closed).
   * Acts once per call (`call.finish()`); later outcomes are ignored.
   * @internal (CallHost)
   */
  settle(call: IncomingCall, failed: boolean, result: unknown): void {
    if (!call.finish()) return;
    if (this.executions.get(call.id) === call) {
      this.executions.delete(call.id);
    } else {
      this.displaced.delete(call);
    }
    // A handler that ignored its signal and succeeded after the call was aborted (cancelled, deadline, connection
    // lost, grace period over) reaches nobody: counted with the abort reason, as README "Metrics" says.
    if (!failed && call.abortReason !== undefined) {
      failed = true;
      result = call.abortReason;
    }
    // A two-way result is encoded first: one that cannot be sent (too large for the consumer, not encodable) fails
    // the call with the code its consumer hears, for callsDone / lastError, the channels and the log too.
    let response: EncodedResponse | undefined;
    // One clock read per call: whether anybody still waits for the answer (an abort cannot come later: the call finished).
    const abandoned = !call.oneWay && call.abandoned;
    if (!failed && !call.oneWay && !abandoned && this.stateValue !== ConnectionState.Closed) {
      const encoded = encodeValue(result, this.peerMaxFrameSize);
      if (encoded instanceof HeartlineError) {
        failed = true;
        result = encoded;
        response = errorResponse(encoded.code, encoded.message);
      } else {
        response = encoded;
      }
    }
    if (failed) {
      this.failed(outcomeCode(call, result), failureMessage(result));
      if (channels.serverCallError.hasSubscribers) channels.serverCallError.publish({ call, server: this.hooks, error: result, duration: now() - call.receivedAt });
      // The handler's failures, and what else user code threw, are logged (also for one-way calls); refusals
      // that keep their code (not found, limits, an interceptor's deliberate HeartlineError) are not.
      if (result !== call.abortReason && !keepsRefusalCode(call, result)) this.logFailure(call, result);
    } else {
      this.callsDone++;
      if (channels.serverCallEnd.hasSubscribers) channels.serverCallEnd.publish({ call, server: this.hooks, result, duration: now() - call.receivedAt });
    }
    if (call.oneWay || this.stateValue === ConnectionState.Closed) return;
    if (abandoned) {
      this.hooks.responseDropped(this);
      return;
    }
    this.respond(call.id, response ?? encodeFailure(call, result, this.options.exposeStack));
  }

  /** A push to a consumer callback; its outcome is published on `heartline:server:push` while that has subscribers. */
  private push(callbackId: number, args: unknown[]): Promise<unknown> {
    const pushed = (this.pushes ??= new CallbackPushes(this, this.options.callbackTimeout)).push(callbackId, args);
    if (!channels.serverPush.hasSubscribers) return pushed;
    const started = now();
    pushed.then(
      () => this.pushSettled(undefined, started),
      (error: unknown) => this.pushSettled(error, started),
    );
    return pushed;
  }

  private pushSettled(error: unknown, started: number): void {
    if (channels.serverPush.hasSubscribers) channels.serverPush.publish({ server: this.hooks, peer: this.peer, connectionId: this.id, error, duration: now() - started });
  }

  /** @internal (CallHost) The limits stage refused `call` at `limit`. */
  refused(limit: RefusedLimit, call: IncomingCall): void {
    if (channels.serverRefuse.hasSubscribers) channels.serverRefuse.publish({ server: this.hooks, limit, peer: this.peer, call });
  }

  /** User code (a handler, an interceptor) failed: logged once, also for one-way calls whose caller never hears of it. */
  private logFailure(call: IncomingCall, error: unknown): void {
    try {
      const { service, method } = call;
      const code = failureCode(error, call.handlerStarted);
      this.log.error({ service, method, code, err: logErr(error, code) }, `handler ${service}#${method} failed: ${failureMessage(error)}`);
    } catch {
      // a throwing logger must not break the connection
    }
  }

  private respond(id: number, r: EncodedResponse): void {
    if (this.transport.send(FLAGS.response, r.status, FrameType.Call, id, r.body) === 0 && !this.transport.isClosed) {
      // The consumer is not reading its responses and the bound is reached: give up on it.
      this.log.warn({}, `consumer ${this.peer} is not reading; closing its connection`);
      this.transport.destroy(new HeartlineError('LIMIT_EXCEEDED', 'write queue bound reached'));
      return;
    }
    // Backpressure: stop reading new requests until the socket drains.
    if (this.transport.writer.isBlocked) this.transport.socket.pause();
  }

  /** @internal (PushLink) */
  get isClosed(): boolean {
    return this.stateValue === ConnectionState.Closed;
  }

  /** @internal (PushLink) */
  sendPush(id: number, body: Buffer): number {
    return this.transport.send(FLAGS.callTwoWay, 0, FrameType.Call, id, body);
  }

  /** The one gate for state changes (Handshaking -> Ready -> Draining -> Closed). */
  private transition(to: ConnectionState): boolean {
    if (!canTransition(this.stateValue, to)) return false;
    this.stateValue = to;
    return true;
  }

  /** @internal (PushLink) */
  protocolError(message: string): void {
    this.closeKind ??= 'protocol-error';
    const err = new HeartlineError('PROTOCOL_ERROR', message);
    this.log.warn({ err }, `protocol error from ${this.peer}: ${message}; closing this connection`);
    this.transport.destroy(err);
  }
}
