import { isIP } from 'node:net';
import { createSecureContext, type PeerCertificate, type SecureContext, type SecureContextOptions } from 'node:tls';
import { HeartlineError } from '../errors/heartline-error.js';
import { checkBoolean, checkObject, invalidConfig } from '../errors/invalid-config.js';

/**
 * The `tls` options of both sides (issue #10), and their one check: the
 * client's and the server's options modules call `resolveClientTls` and
 * `resolveServerTls`, so a bad field fails with INVALID_CONFIG naming it
 * (`tls.servername must be ...`), and Node's own check of the PEM texts runs
 * when the Client or Server is made, not at the first connection.
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
