import { isIP, connect as netConnect, createServer as netCreateServer, type Server as NetServer, type Socket } from 'node:net';
import {
  Server as TlsServer,
  TLSSocket,
  connect as tlsConnect,
  createSecureContext,
  type Certificate,
  type PeerCertificate,
  type SecureContext,
  type SecureContextOptions,
} from 'node:tls';
import { HeartlineError } from '../errors/heartline-error.js';
import { checkBoolean, checkObject, invalidConfig } from '../errors/invalid-config.js';
import type { Logger } from './logger.js';

/**
 * TLS for Heartline (issue #10): a layer below the frame. This module makes
 * the sockets (plain or TLS) that a Transport then carries frames over, and
 * the listening server; nothing above it changes, because a `TLSSocket` is a
 * `net.Socket`. It also holds what both sides share: the check of the `tls`
 * options, the words for a TLS failure, and the peer's certificate summary.
 *
 * ```
 *   consumer: connectSocket() --'connect' or 'secureConnect'--> handshake frame
 *   provider: createListener() --'connection' or 'secureConnection'--> accept(socket)
 *             failed TLS handshakes --> logger.warn (no connection is made)
 * ```
 */

/** `tls` of `new Client(options)`: Node's secure-context options plus the client's side of the handshake. */
export interface ClientTlsOptions extends SecureContextOptions {
  /**
   * Host name sent in SNI and checked against the provider's certificate.
   * Default: the provider's host when it is a name; for an IP address no SNI
   * is sent and the certificate must name the IP.
   */
  servername?: string;
  /** Refuse a provider whose certificate does not verify against `ca` (or its host name). Default true. */
  rejectUnauthorized?: boolean;
  /** Replaces Node's host-name check (`tls.checkServerIdentity`), e.g. to pin a certificate. Default Node's. */
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

/** `tls` of `new Server(options)`: Node's secure-context options (with `key` and `cert`, or `pfx`) plus mutual TLS. */
export interface ServerTlsOptions extends SecureContextOptions {
  /** Ask consumers for a certificate (mutual TLS), verified against `ca`. Default false. */
  requestCert?: boolean;
  /** With `requestCert`: refuse a consumer whose certificate is missing or does not verify. Default true. */
  rejectUnauthorized?: boolean;
}

/** A client's `tls` option, checked: one secure context shared by every connection of the client. */
export interface ResolvedClientTls {
  readonly secureContext: SecureContext;
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly checkServerIdentity: ClientTlsOptions['checkServerIdentity'] | undefined;
}

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

/**
 * Opens the consumer's socket: plain TCP, or TLS when `target.tls` is set.
 * `onOpen` runs once the socket can carry frames: after the TCP connect, or
 * after the TLS handshake (and the provider's certificate check).
 */
export function connectSocket(target: SocketTarget, onOpen: () => void): Socket {
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

  constructor(tls: ServerTlsOptions, options: ListenerOptions, onSocket: (socket: Socket) => void) {
    // rejectUnauthorized: false for Node, which then accepts every handshake; the check is ours (above).
    super({ ...tls, rejectUnauthorized: false, handshakeTimeout: options.handshakeTimeout });
    const mustVerify = tls.requestCert === true && tls.rejectUnauthorized !== false;
    const logger = options.logger;
    this.on('connection', (raw: Socket) => {
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
        logger.warn(`TLS: refused consumer ${peer}: ${why}`, { peer, code: info.authorizationError });
        socket.destroy();
        return;
      }
      onSocket(socket);
    });
    this.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      const peer = socket.remoteAddress === undefined ? 'a consumer' : `${socket.remoteAddress}:${socket.remotePort ?? '?'}`;
      const hint = err.code === 'ECONNRESET' ? ' (the consumer closed the connection during the TLS handshake: does it trust this server\'s certificate?)' : '';
      logger.warn(`TLS handshake with ${peer} failed: ${describeTlsError(err)}${hint}`, { peer, code: err.code });
      // With a 'tlsClientError' listener, Node leaves the socket to it (a handshake timeout would keep it open).
      socket.destroy();
    });
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

/**
 * The client's `tls` option, checked (INVALID_CONFIG naming the field), with
 * its secure context made once: a bad key, certificate or CA fails here, at
 * `new Client()`, not at the first connection.
 */
export function resolveClientTls(path: string, value: unknown): ResolvedClientTls | undefined {
  if (value === undefined) return undefined;
  const o = checkObject(path, value) as ClientTlsOptions & { requestCert?: unknown };
  if (o.requestCert !== undefined) throw new HeartlineError('INVALID_CONFIG', `${path}.requestCert is a server option (a client always shows its certificate when it has one)`);
  if (o.servername !== undefined && (typeof o.servername !== 'string' || o.servername === '' || isIP(o.servername) !== 0)) {
    throw invalidConfig(`${path}.servername`, 'a host name (not an IP address: Node sends no SNI for an IP)', o.servername);
  }
  if (o.checkServerIdentity !== undefined && typeof o.checkServerIdentity !== 'function') throw invalidConfig(`${path}.checkServerIdentity`, 'a function', o.checkServerIdentity);
  const rejectUnauthorized = checkBoolean(`${path}.rejectUnauthorized`, o.rejectUnauthorized) ?? true;
  checkKeyPair(path, o, false);
  return Object.freeze({
    secureContext: secureContextOf(path, o),
    servername: o.servername,
    rejectUnauthorized,
    checkServerIdentity: o.checkServerIdentity,
  });
}

/**
 * The server's `tls` option, checked (INVALID_CONFIG naming the field): it
 * needs a certificate (`key` and `cert`, or `pfx`), and Node must accept it.
 * Returns a frozen copy with the defaults (`requestCert` false,
 * `rejectUnauthorized` true) filled in.
 */
export function resolveServerTls(path: string, value: unknown): ServerTlsOptions | undefined {
  if (value === undefined) return undefined;
  const o = checkObject(path, value) as ServerTlsOptions & { servername?: unknown };
  if (o.servername !== undefined) throw new HeartlineError('INVALID_CONFIG', `${path}.servername is a client option`);
  const requestCert = checkBoolean(`${path}.requestCert`, o.requestCert) ?? false;
  const rejectUnauthorized = checkBoolean(`${path}.rejectUnauthorized`, o.rejectUnauthorized) ?? true;
  checkKeyPair(path, o, true);
  secureContextOf(path, o);
  return Object.freeze({ ...o, requestCert, rejectUnauthorized });
}

/** `key` and `cert` come together (or `pfx` alone); a server must have one of them. */
function checkKeyPair(path: string, o: SecureContextOptions, required: boolean): void {
  const hasKey = o.key !== undefined;
  const hasCert = o.cert !== undefined;
  if (hasKey !== hasCert) throw new HeartlineError('INVALID_CONFIG', `${path}.${hasKey ? 'cert' : 'key'} is missing: ${path}.key and ${path}.cert go together`);
  if (required && !hasKey && o.pfx === undefined) {
    throw new HeartlineError('INVALID_CONFIG', `${path} must have key and cert (or pfx): a TLS server needs a certificate`);
  }
}

/** Node's own check of the PEM texts, the key against its certificate, the versions and ciphers. */
function secureContextOf(path: string, o: SecureContextOptions): SecureContext {
  checkCa(path, o.ca);
  try {
    return createSecureContext(o);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new HeartlineError('INVALID_CONFIG', `${path} is not a usable TLS configuration: ${e.code === undefined ? '' : `${e.code}: `}${e.message}`, { cause: err });
  }
}

/**
 * `ca` holds PEM certificates. Node skips text without a PEM block in silence,
 * so a file path given instead of the file's contents would trust nothing and
 * fail only at the first connection.
 */
function checkCa(path: string, ca: SecureContextOptions['ca']): void {
  if (ca === undefined) return;
  const entries = Array.isArray(ca) ? ca : [ca];
  entries.forEach((entry, i) => {
    const at = Array.isArray(ca) ? `${path}.ca[${i}]` : `${path}.ca`;
    if (typeof entry !== 'string' && !Buffer.isBuffer(entry)) throw invalidConfig(at, 'PEM text (a string or a Buffer)', entry);
    if (!entry.toString('latin1').includes('-----BEGIN')) throw invalidConfig(at, 'PEM certificates (the contents of the file, not its path)', typeof entry === 'string' ? entry : 'a Buffer');
  });
}

/** Node's TLS failures that a wrong set-up causes, with what each means. */
const HINTS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is not signed by a trusted CA (check ca)',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate is not signed by a trusted CA (check ca)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a trusted CA (check ca)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a CA that is not trusted (check ca)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed and not trusted (check ca)',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet (check the clocks)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate does not name this host (check servername, or the certificate\'s subjectAltName)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the peer does not speak TLS: a consumer without the tls option?',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the provider requires a client certificate (set tls.key and tls.cert)',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'the consumer sent no certificate, and this server requires one',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the peer does not trust the CA of our certificate',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the peer rejected our certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the peer says our certificate has expired',
  ERR_TLS_HANDSHAKE_TIMEOUT: 'the TLS handshake did not finish in time (handshakeTimeout)',
};

/** Node's code and message of a TLS failure, and what it means when we know: `CERT_HAS_EXPIRED: certificate has expired (the certificate has expired)`. */
export function describeTlsError(err: NodeJS.ErrnoException): string {
  const hint = err.code === undefined ? undefined : HINTS[err.code];
  // OpenSSL's own messages are long (`80...:error:0A00010B:SSL routines:...`); its `reason` is the readable part.
  const { reason, library } = err as { reason?: unknown; library?: unknown };
  const message = typeof library === 'string' && typeof reason === 'string' && reason !== '' ? reason : String(err.message).split('\n')[0]!.trim();
  return `${err.code ?? 'no code'}: ${message}${hint === undefined ? '' : ` (${hint})`}`;
}

/** OpenSSL's certificate-verification failures, as Node names them (X509_V_ERR_* without the prefix). */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE', 'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
]);

/** True for an error of TLS itself (OpenSSL, a certificate check, Node's TLS layer), rather than of TCP. */
export function isTlsError(err: NodeJS.ErrnoException): boolean {
  const code = err.code;
  if (code === undefined) return false;
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || VERIFY_CODES.has(code);
}

/**
 * The first bytes of a TLS record (a handshake or an alert, any TLS or SSL 3
 * version): what a TLS peer sends first. Never the start of a Heartline frame,
 * whose magic begins with 0x48.
 */
export function looksLikeTls(chunk: Buffer): boolean {
  return chunk.length >= 3 && (chunk[0] === 0x16 || chunk[0] === 0x15) && chunk[1] === 0x03 && chunk[2]! <= 0x04;
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
