/**
 * The words for a TLS failure (issue #10): which errors come from TLS rather
 * than TCP, what Node's codes mean for a Heartline set-up, and how a plain end
 * recognises a TLS peer. Pure: no sockets.
 */

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
