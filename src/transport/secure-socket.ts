import { AsyncResource } from 'node:async_hooks';
import { isIP, connect as netConnect, createServer as netCreateServer, type Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer, TLSSocket, connect as tlsConnect, type Certificate } from 'node:tls';
import { HeartlineError } from '../errors/heartline-error.js';
import { checkObject } from '../errors/invalid-config.js';
import type { Logger } from './logger.js';
import { describeTlsError } from './tls-failure.js';
import { resolveServerTls, type ResolvedClientTls, type ServerTlsOptions } from './tls-options.js';

/**
 * TLS for Heartline (issue #10): a layer below the frame. This module makes
 * the sockets (plain or TLS) that a Transport then carries frames over, and
 * the listening server; nothing above it changes, because a `TLSSocket` is a
 * `net.Socket`. It also reads the peer's certificate summary (`PeerTls`).
 * The options' check is in `tls-options.ts`, the words for a failure in
 * `tls-failure.ts`.
 *
 * ```
 *   consumer: connectSocket() --'connect' or 'secureConnect'--> handshake frame
 *   provider: createListener() --'connection' or 'secureConnection'--> accept(socket)
 *             failed TLS handshakes --> logger.warn (no connection is made)
 * ```
 */

/** What one end knows of its peer over TLS, read once when the TLS handshake completes. */
export interface PeerTls {
  /** The negotiated version, e.g. `TLSv1.3`. */
  protocol: string;
  /** The negotiated cipher suite. */
  cipher: string;
  /** True when the peer's certificate verified against the trusted CAs (on a provider: only with `requestCert`). */
  authorized: boolean;
  /** Why it did not verify (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`); undefined when it did or none was asked for. */
  authorizationError: string | undefined;
  /** The peer certificate's subject (`{ CN: 'billing', O: 'Acme' }`); undefined when the peer sent none. */
  subject: Readonly<Certificate> | undefined;
  /** Its issuer; undefined when the peer sent no certificate. */
  issuer: Readonly<Certificate> | undefined;
  /** SHA-256 fingerprint of the peer certificate (`AB:CD:...`); undefined when none. */
  fingerprint256: string | undefined;
  /** End of its validity (`Jan  2 00:00:00 2030 GMT`); undefined when none. */
  validTo: string | undefined;
}

/** Where a consumer connects, and how. */
export interface SocketTarget {
  host: string;
  port: number;
  tls?: ResolvedClientTls | undefined;
}

/** An async context made at load, outside any served call: connections do not belong to the call that opened them. */
const ROOT_CONTEXT = new AsyncResource('heartline:connection', { requireManualDestroy: true });

/**
 * Opens the consumer's socket: plain TCP, or TLS when `target.tls` is set.
 * `onOpen` runs once the socket can carry frames: after the TCP connect, or
 * after the TLS handshake (and the provider's certificate check).
 */
export function connectSocket(target: SocketTarget, onOpen: () => void): Socket {
  // A socket's events run in the async context it was made in: one opened by a call made inside a handler would
  // run every later push listener (and all else its events start) inside that served call, long after it finished
  // (its currentCall(), its deadline inherited by the calls a listener makes). Made in the root context instead.
  return ROOT_CONTEXT.runInAsyncScope(openSocket, undefined, target, onOpen);
}

function openSocket(target: SocketTarget, onOpen: () => void): Socket {
  const tls = target.tls;
  if (tls === undefined) {
    const socket = netConnect({ host: target.host, port: target.port });
    socket.once('connect', onOpen);
    return socket;
  }
  const socket = tlsConnect({
    host: target.host,
    port: target.port,
    secureContext: tls.secureContext,
    // Node sends no SNI for an IP (and checks the certificate against `servername ?? host`).
    servername: tls.servername ?? (isIP(target.host) === 0 ? target.host : undefined),
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.checkServerIdentity === undefined ? {} : { checkServerIdentity: tls.checkServerIdentity }),
  });
  socket.once('secureConnect', onOpen);
  return socket;
}

/** What the listening server needs besides its `tls` option. */
export interface ListenerOptions {
  /** How long a TLS handshake may take, in ms (the server's `handshakeTimeout`, which also bounds Heartline's). */
  handshakeTimeout: number;
  logger: Logger;
  /**
   * Asked for each TCP connection before its TLS handshake starts, with the
   * number of TLS handshakes already under way: false closes it at once,
   * unanswered and unlogged (the server's `maxPendingHandshakes`, which counts
   * TLS handshakes too, and may make room with `evictOldestTlsHandshake`).
   * Default: every connection is let in.
   */
  admit?: (tlsHandshakes: number) => boolean;
}

/**
 * The listening server: `node:net`'s, or with `tls` a TLS server that hands
 * `onSocket` only connections whose TLS handshake succeeded (and, under
 * mutual TLS with `rejectUnauthorized`, whose certificate verified). A failed
 * TLS handshake (a plain consumer, a consumer that refused our certificate, a
 * timeout) or a refused certificate is logged as a warning naming the peer and
 * Node's code, and makes no connection.
 */
export function createListener(tls: ServerTlsOptions | undefined, options: ListenerOptions, onSocket: (socket: Socket) => void): NetServer {
  if (tls === undefined) return netCreateServer(onSocket);
  return new HeartlineTlsServer(tls, options, onSocket);
}

/** TLS handshakes under way on a server made by `createListener` (0 for a plain one): connections not handed over yet. */
export function tlsHandshakesUnderWay(listener: NetServer): number {
  return listener instanceof HeartlineTlsServer ? listener.handshakesUnderWay : 0;
}

/** Closes the oldest TLS handshake under way on a server made by `createListener` (unlogged); false when there is none. */
export function evictOldestTlsHandshake(listener: NetServer): boolean {
  return listener instanceof HeartlineTlsServer && listener.evictOldest();
}

/**
 * Replaces the certificates of a server made by `createListener` with `tls`:
 * connections accepted from now on use the new secure context; live ones keep
 * theirs. `update` is merged into the current options (a field left out keeps
 * its value). Throws INVALID_CONFIG for a plain server or a bad update.
 */
export function replaceSecureContext(listener: NetServer, current: ServerTlsOptions | undefined, update: unknown): ServerTlsOptions {
  if (!(listener instanceof HeartlineTlsServer) || current === undefined) {
    throw new HeartlineError('INVALID_CONFIG', 'setSecureContext: this server was made without the tls option, and TLS cannot be turned on later');
  }
  const u = checkObject('setSecureContext options', update) as ServerTlsOptions;
  for (const name of ['requestCert', 'rejectUnauthorized'] as const) {
    if (u[name] !== undefined) throw new HeartlineError('INVALID_CONFIG', `setSecureContext: ${name} cannot be changed on a running server (it is part of the tls option of new Server())`);
  }
  const next = resolveServerTls('setSecureContext options', { ...current, ...u })!;
  listener.setSecureContext(next);
  return next;
}

/**
 * A tls.Server that:
 * - checks consumers' certificates itself under mutual TLS. Node, asked to
 *   reject an unverified certificate, closes the socket without a word on
 *   either side; here the refusal is logged with its reason, and the consumer
 *   sees its connection closed just after the TLS handshake;
 * - ends the TLS handshakes under way on `close()`: they are not connections
 *   yet (no owner can close them), and would hold `close()` until
 *   `handshakeTimeout`. Raw sockets are known by their remote address, the one
 *   thing a raw socket and its TLS socket both show.
 */
class HeartlineTlsServer extends TlsServer {
  private readonly handshaking = new Map<string, Socket>();
  /** Raw sockets closed at once by `admit`: the 'tlsClientError' their TLS socket reports is not a failure to log. */
  private readonly shed = new WeakSet<Socket>();

  constructor(tls: ServerTlsOptions, options: ListenerOptions, onSocket: (socket: Socket) => void) {
    // rejectUnauthorized: false for Node, which then accepts every handshake; the check is ours (above).
    super({ ...tls, rejectUnauthorized: false, handshakeTimeout: options.handshakeTimeout });
    const mustVerify = tls.requestCert === true && tls.rejectUnauthorized !== false;
    const logger = options.logger;
    this.on('connection', (raw: Socket) => {
      if (options.admit !== undefined && !options.admit(this.handshaking.size)) {
        this.shed.add(raw);
        raw.destroy();
        return;
      }
      const key = remoteKey(raw);
      if (key === undefined) return;
      this.handshaking.set(key, raw);
      raw.once('close', () => this.handshaking.delete(key));
    });
    this.on('secureConnection', (socket: TLSSocket) => {
      const key = remoteKey(socket);
      if (key !== undefined) this.handshaking.delete(key);
      if (mustVerify && !socket.authorized) {
        const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
        const info = peerTls(socket);
        const why = info.subject === undefined ? 'it sent no certificate' : `its certificate (subject ${describeSubject(info.subject)}) did not verify: ${info.authorizationError ?? 'unknown reason'}`;
        logger.warn({ peer, err: new HeartlineError('CONNECT_FAILED', `TLS: ${why}`), tlsError: info.authorizationError }, `TLS: refused consumer ${peer}: ${why}`);
        socket.destroy();
        return;
      }
      onSocket(socket);
    });
    this.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      // `_parent`: the raw socket a server's TLSSocket wraps (Node's own field; a shed one was counted, not failed).
      const parent = (socket as unknown as { _parent?: unknown })._parent;
      if (parent instanceof Object && this.shed.has(parent as Socket)) {
        socket.destroy();
        return;
      }
      const peer = socket.remoteAddress === undefined ? 'a consumer' : `${socket.remoteAddress}:${socket.remotePort ?? '?'}`;
      const hint = err.code === 'ECONNRESET' ? ' (the consumer closed the connection during the TLS handshake: does it trust this server\'s certificate?)' : '';
      logger.warn({ peer, err: new HeartlineError('CONNECT_FAILED', `TLS handshake failed: ${describeTlsError(err)}`), tlsError: err.code }, `TLS handshake with ${peer} failed: ${describeTlsError(err)}${hint}`);
      // With a 'tlsClientError' listener, Node leaves the socket to it (a handshake timeout would keep it open).
      socket.destroy();
    });
  }

  get handshakesUnderWay(): number {
    return this.handshaking.size;
  }

  /** Closes the oldest TLS handshake under way (Map order is arrival order), unlogged. */
  evictOldest(): boolean {
    for (const [key, raw] of this.handshaking) {
      this.handshaking.delete(key);
      this.shed.add(raw);
      raw.destroy();
      return true;
    }
    return false;
  }

  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    for (const raw of this.handshaking.values()) raw.destroy();
    this.handshaking.clear();
    return this;
  }
}

function remoteKey(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}

function describeSubject(subject: Readonly<Certificate>): string {
  return Object.entries(subject).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(', ');
}

/** What a TLS socket knows of its peer, once its handshake is done. */
export function peerTls(socket: TLSSocket): PeerTls {
  const cert = socket.getPeerCertificate();
  const has = cert !== null && cert !== undefined && Object.keys(cert).length > 0;
  const error = socket.authorizationError as unknown;
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.name ?? 'unknown',
    authorized: socket.authorized,
    authorizationError: error === undefined || error === null ? undefined : String(error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : error),
    subject: has ? Object.freeze({ ...cert.subject }) : undefined,
    issuer: has ? Object.freeze({ ...cert.issuer }) : undefined,
    fingerprint256: has ? cert.fingerprint256 : undefined,
    validTo: has ? cert.valid_to : undefined,
  };
}
