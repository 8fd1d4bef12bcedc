import { ERROR_CODES } from '../errors/codes.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ConnectionState, type DisconnectReason } from '../exchange/connection-state.js';
import { answer, readHello, type ProviderTerms } from '../exchange/handshake.js';
import { encodeBody } from '../protocol/codec.js';
import { FrameType, MAX_HANDSHAKE_FRAME } from '../protocol/constants.js';
import { FLAGS, isRequest, type FrameHeader } from '../protocol/frame.js';
import { errorBody, type HandshakeRequest, type HandshakeResponse } from '../protocol/messages.js';
import type { Logger } from '../transport/logger.js';
import type { PeerTls } from '../transport/secure-socket.js';
import type { Transport } from '../transport/transport.js';
import { runAuthenticate, type Authenticate, type Authenticated } from './authentication.js';

/** The options the handshake reads (see `ServerConnectionOptions`). */
export interface HandshakeOptions extends ProviderTerms {
  /** Largest frame read once the handshake is done, in bytes (before it: at most MAX_HANDSHAKE_FRAME). */
  maxFrameSize: number;
  /** Close the connection if its handshake is not done within this long, in ms. */
  handshakeTimeout: number;
  /** The server's `authenticate` hook; undefined: every consumer is accepted, anonymous. */
  authenticate: Authenticate | undefined;
}

/** What the handshake needs of its connection (the frames it writes and reads go through the connection's transport). */
export interface HandshakeHost {
  readonly peer: string;
  readonly tls: PeerTls | undefined;
  readonly log: Logger;
  readonly state: ConnectionState;
  /** True while the handshake is in progress (its request awaited, or `authenticate` deciding). */
  readonly handshaking: boolean;
  /** Asks the server (`ServerConnectionHooks.admit`): an error refuses the connection. */
  admitHandshake(): HeartlineError | undefined;
  /** Handshaking -> Authenticating: `authenticate` decides. */
  startAuthenticating(): void;
  /** The handshake succeeded with `terms`: the connection takes them and becomes Ready (the answer is not sent yet). */
  handshakeAccepted(request: HandshakeRequest, terms: HandshakeResponse, auth: Authenticated | undefined): void;
  /** The answer went out: the server is told the connection is ready (`ServerConnectionHooks.onReady`). */
  handshakeAnswered(): void;
  /** The connection will close for `kind` (unless a reason is set already); `err`, if given, becomes its last error. */
  closing(kind: DisconnectReason, err?: HeartlineError): void;
  protocolError(message: string): void;
}

/**
 * The provider's side of one connection's handshake: it reads the consumer's
 * hello, asks the server to admit it, runs `authenticate`, and answers it
 * (the agreed terms) or refuses it. It owns the `handshakeTimeout` timer,
 * cleared once Ready or closed (`cancel()`, which every close path calls).
 */
export class ServerHandshake {
  /** Destroys the socket if the handshake is not done in time; cleared once Ready or closed. */
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: HandshakeHost,
    private readonly transport: Transport,
    private readonly options: HandshakeOptions,
  ) {
    // Until the handshake completes, nothing larger than a handshake request is read: a bigger header closes the connection.
    transport.decoder.maxFrameSize = Math.min(options.maxFrameSize, MAX_HANDSHAKE_FRAME);
    // Independent of idleTimeout (which a drip of bytes keeps at bay, and which may be 0).
    this.handshakeTimer = setTimeout(onHandshakeTimeout, options.handshakeTimeout, this);
    this.handshakeTimer.unref();
  }

  /** Clears the handshake timer (idempotent). */
  cancel(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  /** @internal The handshake did not complete within `handshakeTimeout`. */
  handshakeExpired(): void {
    this.handshakeTimer = undefined;
    if (!this.host.handshaking || this.transport.isClosed) return;
    this.host.closing('handshake-timeout');
    this.host.log.warn({}, `consumer ${this.host.peer} did not complete its handshake within ${this.options.handshakeTimeout} ms: closing its connection`);
    this.transport.destroy(new HeartlineError('CONNECT_FAILED', 'handshake timeout'));
  }

  /** The first frame of the connection: it must be the consumer's handshake request. */
  handshake(header: FrameHeader, body: Buffer): void {
    if (header.type !== FrameType.Handshake || !isRequest(header.flags)) return this.host.protocolError('the first frame must be a handshake');
    const request = readHello(body);
    if (typeof request === 'string') return this.refuse(header.id, new HeartlineError('PROTOCOL_ERROR', request), 'protocol-error');
    const refusal = this.host.admitHandshake();
    if (refusal !== undefined) return this.refuse(header.id, refusal, 'refused');
    const authenticate = this.options.authenticate;
    if (authenticate === undefined) return this.accept(header.id, request, undefined);
    this.host.startAuthenticating();
    const id = header.id;
    const hello = { credentials: request.credentials, agent: request.agent };
    runAuthenticate(authenticate, hello, { address: this.host.peer, tls: this.host.tls }, this.host.log, (outcome) => this.authenticationDone(id, request, outcome));
  }

  /** `authenticate` answered (at once or later): accept, or refuse with UNAUTHENTICATED. */
  private authenticationDone(id: number, request: HandshakeRequest, outcome: Authenticated | HeartlineError): void {
    // Closed meanwhile (handshakeTimeout, the consumer left, the server closed): nothing to answer.
    if (this.host.state !== ConnectionState.Authenticating || this.transport.isClosed) return;
    if (outcome instanceof HeartlineError) return this.refuse(id, outcome, 'unauthenticated');
    // Other connections may have become ready while this one waited: the cap is checked again.
    const refusal = this.host.admitHandshake();
    if (refusal !== undefined) return this.refuse(id, refusal, 'refused');
    this.accept(id, request, outcome);
  }

  /** The handshake succeeds: the answer goes out, frames up to `maxFrameSize` are read from now on, calls may come. */
  private accept(id: number, request: HandshakeRequest, auth: Authenticated | undefined): void {
    const terms = answer(request, this.options);
    this.transport.decoder.maxFrameSize = this.options.maxFrameSize;
    if (terms.fragments === true) {
      // The consumer sends fragments only once it has read the answer; this side may send them from now on.
      this.transport.enableFragments(this.options.fragmentSize);
    }
    this.host.handshakeAccepted(request, terms, auth);
    this.cancel();
    this.transport.send(FLAGS.handshakeResponse, 0, FrameType.Handshake, id, encodeBody(terms));
    this.host.handshakeAnswered();
  }

  private refuse(id: number, err: HeartlineError, kind: DisconnectReason): void {
    this.host.closing(kind, err);
    // Nothing more is read from a refused consumer; the socket closes when it does (or at handshakeTimeout).
    this.transport.decoder.stop();
    this.transport.send(FLAGS.handshakeResponse, ERROR_CODES[err.code].status, FrameType.Handshake, id, encodeBody(errorBody(err.code, err.message)));
    this.transport.end();
  }
}

function onHandshakeTimeout(handshake: ServerHandshake): void {
  handshake.handshakeExpired();
}
