import { HeartlineError } from '../errors/heartline-error.js';
import { encodeBody } from '../protocol/codec.js';
import { DEFAULT_FRAGMENT_SIZE, FrameType, MAX_CREDENTIALS_BYTES } from '../protocol/constants.js';
import { FLAGS, isRequest, type FrameHeader } from '../protocol/frame.js';
import { readErrorResponse, type HandshakeResponse } from '../protocol/messages.js';
import type { Transport } from '../transport/transport.js';
import { ConnectionState, type DisconnectReason } from './connection-state.js';
import { hello, readAnswer } from './handshake.js';

/** The client's `credentials` option: a token, or a function that gives one (asked for every new connection). */
export type Credentials = string | (() => string | Promise<string>);

/** The options the consumer's handshake reads (see `ClientConnectionOptions`). */
export interface ClientHandshakeOptions {
  /** Largest frame this consumer accepts, in bytes: proposed in the hello. */
  maxFrameSize: number;
  /** Ping interval proposed in the handshake, in ms; 0 for none. */
  heartbeat: number;
  /** Credentials for the handshake (`credentials`): a string, or a function asked once per connection. */
  credentials?: Credentials | undefined;
  /** Bodies over this many bytes go out as fragments, if the provider agrees (protocol.md 4.9); 0: fragments neither offered nor accepted. Default 65536. */
  fragmentSize?: number | undefined;
}

/** What the consumer's handshake needs of its connection. */
export interface ClientHandshakeHost {
  readonly address: string;
  readonly state: ConnectionState;
  /** Connecting -> Handshaking; false when the connection is past that (closed meanwhile). */
  startHandshaking(): boolean;
  /** The provider accepted with `answer`: the connection takes its terms and becomes Ready. */
  handshakeAnswered(answer: HandshakeResponse): void;
  /** Closes the connection now, for `kind`, with `err`. */
  shutdown(kind: DisconnectReason, err: HeartlineError): void;
  protocolError(message: string): void;
}

/**
 * The consumer's side of one connection's handshake: the credentials asked
 * for, the hello sent, and the provider's answer (or refusal) read. The
 * connection applies the agreed terms (`handshakeAnswered`).
 */
export class ClientHandshake {
  constructor(
    private readonly host: ClientHandshakeHost,
    private readonly transport: Transport,
    private readonly options: ClientHandshakeOptions,
  ) {}

  /**
   * The socket is open: the credentials are asked for (a function is called
   * once per connection, so a refreshed token is used), then the handshake
   * request goes out. `connectTimeout` bounds both. A function that throws,
   * rejects or gives anything but a string of at most 8 KiB fails this
   * connection with UNAUTHENTICATED (its error as `cause`), nothing sent.
   */
  start(): void {
    if (!this.host.startHandshaking()) return;
    const source = this.options.credentials;
    if (typeof source !== 'function') return this.sendHello(source);
    let value: unknown;
    let then: unknown;
    try {
      value = source();
      then = (typeof value === 'object' && value !== null) || typeof value === 'function' ? (value as { then?: unknown }).then : undefined;
    } catch (err) {
      return this.credentialsFailed('threw', err);
    }
    if (typeof then !== 'function') return this.credentialsGiven(value);
    Promise.resolve()
      .then(() => value)
      .then(
        (token) => this.credentialsGiven(token),
        (err: unknown) => this.credentialsFailed('rejected', err),
      );
  }

  private credentialsGiven(token: unknown): void {
    if (this.host.state !== ConnectionState.Handshaking) return; // closed meanwhile (connectTimeout, client.close())
    if (typeof token !== 'string') return this.credentialsFailed(`gave ${token === null ? 'null' : typeof token} instead of a string`, undefined);
    if (Buffer.byteLength(token, 'utf8') > MAX_CREDENTIALS_BYTES) return this.credentialsFailed(`gave a string over ${MAX_CREDENTIALS_BYTES} bytes`, undefined);
    this.sendHello(token);
  }

  private credentialsFailed(what: string, cause: unknown): void {
    if (this.host.state !== ConnectionState.Handshaking) return;
    this.host.shutdown('unauthenticated', new HeartlineError('UNAUTHENTICATED', `the credentials function for ${this.host.address} ${what}`, cause === undefined ? undefined : { cause }));
  }

  private sendHello(credentials: string | undefined): void {
    this.transport.send(FLAGS.handshake, 0, FrameType.Handshake, 0, encodeBody(hello(this.options.maxFrameSize, this.options.heartbeat, credentials, this.fragmentSize > 0)));
  }

  private get fragmentSize(): number {
    return this.options.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
  }

  /** A handshake frame from the provider: its answer, or its refusal (the connection closes). */
  finish(header: FrameHeader, body: Buffer): void {
    if (this.host.state !== ConnectionState.Handshaking || isRequest(header.flags)) {
      this.host.protocolError('unexpected handshake frame');
      return;
    }
    if (header.status !== 0) {
      let refusal: HeartlineError;
      try {
        refusal = readErrorResponse(header.status, body);
      } catch {
        this.host.protocolError('undecodable handshake refusal');
        return;
      }
      this.host.shutdown(refusal.code === 'UNAUTHENTICATED' ? 'unauthenticated' : 'refused', refusal);
      return;
    }
    const answer = readAnswer(body);
    if (typeof answer === 'string') {
      this.host.protocolError(answer);
      return;
    }
    if (answer.fragments === true) {
      if (this.fragmentSize === 0) {
        this.host.protocolError('handshake response: fragments agreed, but this consumer did not offer them');
        return;
      }
      // Before any frame after the answer is read: the provider may send fragments from now on.
      this.transport.enableFragments(this.fragmentSize);
    }
    this.host.handshakeAnswered(answer);
  }
}
