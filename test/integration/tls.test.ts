// TLS and mutual TLS (issue #10), over real sockets on 127.0.0.1, port 0, with
// certificates made at test time (test/helpers/certs.ts). Every mismatch fails
// fast on the consumer with CONNECT_FAILED naming the problem (Node's error at
// the end of the cause chain) and is logged on the provider; none waits for
// connectTimeout.
import { createServer, connect as netConnect, type Server as NetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HeartlineError, type ClientOptions, type DisconnectReason, type Logger, type ServerOptions } from '../../src/index.js';
import { testCerts } from '../helpers/certs.js';
import { Echo } from '../helpers/contract.js';
import { activeResources, expectCode, expectThrowCode, newClient, startServer, useCleanup, waitFor, type StartedServer } from '../helpers/server.js';

const certs = testCerts();
const SERVER_TLS = { key: certs.server.key, cert: certs.server.cert };
const MTLS = { ...SERVER_TLS, ca: certs.ca, requestCert: true };
const CLIENT_MTLS = { ca: certs.ca, key: certs.client.key, cert: certs.client.cert };
/** Far longer than any failure here may take: a failure that waits for it is a hang. */
const CONNECT_TIMEOUT = 5000;
const FAST_MS = 1500;

const defer = useCleanup();

/** A logger that keeps every line. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (_fields, m) => void lines.push(m), error: (_fields, m) => void lines.push(m) };
}

async function server(options: ServerOptions): Promise<StartedServer & { log: string[] }> {
  const logger = recorder();
  const started = defer(await startServer({ logger, ...options }), (s) => s.close());
  return Object.assign(started, { log: logger.lines });
}

function client(address: string, options: ClientOptions = {}) {
  return defer(newClient(address, { cluster: 'failfast', connectTimeout: CONNECT_TIMEOUT, ...options }), (c) => c.close());
}

/** The last error of a cause chain (Node's own error, for a TLS failure). */
function rootCause(err: unknown): Error & { code?: string } {
  let e = err as Error & { cause?: unknown };
  while (e.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
  return e;
}

/** A bare TCP server on 127.0.0.1 (closed after the test, its sockets destroyed); returns its address. */
async function rawServer(onSocket: (socket: Socket) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const srv: NetServer = createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  defer(srv, (x) => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => x.close(resolve));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(srv.address() as { port: number }).port}`;
}

/** One call that must fail with CONNECT_FAILED well before connectTimeout; returns the error. */
async function failsFast(address: string, options: ClientOptions): Promise<HeartlineError> {
  const started = performance.now();
  const err = await expectCode(client(address, options).refer(Echo).echo('hi'), 'CONNECT_FAILED');
  expect(performance.now() - started).toBeLessThan(FAST_MS);
  return err;
}

describe('TLS', () => {
  it('carries calls over TLS, to an IP address and to a host name', async () => {
    const s = await server({ tls: SERVER_TLS });
    expect(await client(s.address, { tls: { ca: certs.ca } }).refer(Echo).echo({ a: [1, 2] })).toEqual({ a: [1, 2] });
    expect(await client(`localhost:${s.port}`, { tls: { ca: certs.ca } }).refer(Echo).echo('by name')).toBe('by name');
    const [info] = s.server.connections();
    expect(info!.tls).toMatchObject({ protocol: 'TLSv1.3', authorized: false, subject: undefined });
  });

  it('mutual TLS: the provider sees the consumer certificate (authorized, subject) on connect and in connections()', async () => {
    const s = await server({ tls: MTLS });
    const seen: unknown[] = [];
    s.server.on('connect', (info) => seen.push(info.tls));
    expect(await client(s.address, { tls: CLIENT_MTLS }).refer(Echo).echo('mtls')).toBe('mtls');
    const expected = { authorized: true, authorizationError: undefined, subject: { CN: 'test-client' }, issuer: { CN: 'Heartline Test CA' } };
    expect(seen).toEqual([expect.objectContaining(expected)]);
    expect(s.server.connections()[0]!.tls).toMatchObject(expected);
    expect(s.server.connections()[0]!.tls!.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('optional client certificates (rejectUnauthorized: false): a consumer without one is let in, unauthorized', async () => {
    const s = await server({ tls: { ...MTLS, rejectUnauthorized: false } });
    expect(await client(s.address, { tls: { ca: certs.ca } }).refer(Echo).echo('anonymous')).toBe('anonymous');
    expect(s.server.connections()[0]!.tls).toMatchObject({ authorized: false, subject: undefined });
  });

  it('servername checks the certificate against another name than the address', async () => {
    const s = await server({ tls: { key: certs.otherHost.key, cert: certs.otherHost.cert } });
    expect(await client(s.address, { tls: { ca: certs.ca, servername: 'other.example' } }).refer(Echo).echo('sni')).toBe('sni');
  });

  it('a TLS connection lives through heartbeats and idle time like a plain one', async () => {
    const s = await server({ tls: SERVER_TLS, idleTimeout: 300, minHeartbeat: 100 });
    const reasons: DisconnectReason[] = [];
    s.server.on('disconnect', (_info, reason) => reasons.push(reason));
    const c = client(s.address, { tls: { ca: certs.ca }, heartbeat: 100 });
    const echo = c.refer(Echo);
    await echo.echo(1);
    await new Promise((resolve) => setTimeout(resolve, 800)); // more than twice the provider's idleTimeout
    expect(await echo.echo(2)).toBe(2);
    expect(reasons).toEqual([]);
    expect(s.server.connectionsAccepted).toBe(1);
    expect(c.connections()[0]!.rtt).toBeGreaterThanOrEqual(0); // pongs came back over TLS
  });

  it('keepProcessAlive: an idle TLS connection does not hold the process unless asked to', async () => {
    const s = await server({ tls: SERVER_TLS });
    const sockets = (): number => activeResources().TCPSocketWrap ?? 0;
    const idle = client(s.address, { tls: { ca: certs.ca } });
    await idle.refer(Echo).echo('x');
    await waitFor(() => s.server.connectionCount === 1);
    expect(sockets()).toBe(1); // the provider's end only: the consumer's TLS socket is unref'd
    const kept = client(s.address, { tls: { ca: certs.ca }, keepProcessAlive: true });
    await kept.refer(Echo).echo('y');
    await waitFor(() => s.server.connectionCount === 2);
    expect(sockets()).toBe(3);
  });
});

describe('TLS mismatches fail clearly on both sides, and fast', () => {
  it('a plain consumer against a TLS provider', async () => {
    const s = await server({ tls: SERVER_TLS });
    const err = await failsFast(s.address, {});
    expect(err.message).toMatch(/closed the connection without answering the handshake.*without the tls option/);
    await waitFor(() => s.log.length > 0);
    expect(s.log[0]).toMatch(/^TLS handshake with 127\.0\.0\.1:\d+ failed: ERR_SSL_WRONG_VERSION_NUMBER: wrong version number \(the peer does not speak TLS/);
  });

  it('a TLS consumer against a plain provider', async () => {
    const s = await server({});
    const reasons: DisconnectReason[] = [];
    s.server.on('disconnect', (_info, reason) => reasons.push(reason));
    const err = await failsFast(s.address, { tls: { ca: certs.ca } });
    expect(err.message).toMatch(/closed the connection before TLS was established: does it serve TLS\?/);
    expect(rootCause(err).code).toBe('ECONNRESET');
    await waitFor(() => reasons.length > 0);
    expect(s.log[0]).toMatch(/^protocol error from 127\.0\.0\.1:\d+: the peer speaks TLS and this end does not/);
    expect(reasons).toEqual(['protocol-error']);
  });

  it.each([
    ['a wrong CA', SERVER_TLS, { ca: certs.otherCa }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not signed by a trusted CA/],
    ['an expired certificate', { key: certs.expired.key, cert: certs.expired.cert }, { ca: certs.ca }, 'CERT_HAS_EXPIRED', /has expired/],
    ['a certificate for another host', { key: certs.otherHost.key, cert: certs.otherHost.cert }, { ca: certs.ca }, 'ERR_TLS_CERT_ALTNAME_INVALID', /does not name this host/],
    ['a host name the certificate lacks (servername)', SERVER_TLS, { ca: certs.ca, servername: 'other.example' }, 'ERR_TLS_CERT_ALTNAME_INVALID', /does not name this host/],
  ])('%s: CONNECT_FAILED naming Node\'s code, whose error is the cause', async (_name, serverTls, clientTls, code, hint) => {
    const s = await server({ tls: serverTls });
    const err = await failsFast(s.address, { tls: clientTls });
    expect(err.message).toContain(`TLS with ${s.address} failed: ${code}`);
    expect(err.message).toMatch(hint);
    expect(rootCause(err).code).toBe(code);
    expect(err.retrySafe).toBe(true);
    // The provider logs the consumer walking out of the TLS handshake.
    await waitFor(() => s.log.length > 0);
    expect(s.log[0]).toMatch(/^TLS handshake with .* failed: ECONNRESET/);
    expect(s.server.connectionsAccepted).toBe(0);
  });

  it('mutual TLS, a consumer without a certificate', async () => {
    const s = await server({ tls: MTLS });
    const err = await failsFast(s.address, { tls: { ca: certs.ca } });
    expect(err.message).toMatch(/closed the connection just after the TLS handshake.*refused this client's certificate/);
    expect(s.log).toEqual([expect.stringMatching(/^TLS: refused consumer 127\.0\.0\.1:\d+: it sent no certificate$/)]);
    expect(s.server.connectionsAccepted).toBe(0);
  });

  it('mutual TLS, a consumer certificate from another CA', async () => {
    const s = await server({ tls: MTLS });
    await failsFast(s.address, { tls: { ca: certs.ca, key: certs.stranger.key, cert: certs.stranger.cert } });
    expect(s.log).toEqual([expect.stringMatching(/refused consumer .*: its certificate \(subject CN=stranger\) did not verify: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/)]);
  });

  it('a certificate error does not make the endpoint spin: reconnects follow the backoff', async () => {
    const s = await server({ tls: { key: certs.expired.key, cert: certs.expired.cert } });
    const c = client(s.address, { tls: { ca: certs.ca }, reconnect: { initialDelay: 50, factor: 2, maxDelay: 400, jitter: 0 } });
    const failures: DisconnectReason[] = [];
    c.on('disconnect', (_info, reason) => failures.push(reason));
    await expectCode(c.refer(Echo).echo('x'), 'CONNECT_FAILED');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Delays of at most 50, then 100, 200, 400, 400...: about 5 attempts in a second, never hundreds.
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.length).toBeLessThanOrEqual(7);
    expect(new Set(failures)).toEqual(new Set(['connect-failed']));
    await expectCode(c.refer(Echo).echo('y'), 'UNAVAILABLE'); // while reconnecting, calls fail fast
  });

  it('a plain consumer that gets a TLS record back says so (a TLS endpoint that answers with an alert)', async () => {
    const alert = Buffer.from('15030300020246', 'hex'); // TLS 1.2 record: fatal alert, protocol_version
    const tlsLike = await rawServer((socket) => socket.once('data', () => socket.end(alert)));
    const err = await failsFast(tlsLike, {});
    expect(err.message).toMatch(/the peer speaks TLS and this end does not/);
  });

  it('connectTimeout covers the TLS handshake', async () => {
    const mute = await rawServer(() => {}); // accepts TCP, never answers the ClientHello
    const started = performance.now();
    const err = await expectCode(client(mute, { tls: { ca: certs.ca }, connectTimeout: 300 }).refer(Echo).echo('x'), 'CONNECT_FAILED');
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(performance.now() - started).toBeLessThan(FAST_MS);
  });

  it('a TLS handshake that never starts is closed after handshakeTimeout, and does not hold close()', async () => {
    const s = await server({ tls: SERVER_TLS, handshakeTimeout: 200 });
    const silent: Socket = defer(netConnect({ host: '127.0.0.1', port: s.port }), (socket) => socket.destroy());
    const closed = new Promise((resolve) => silent.once('close', resolve));
    await closed;
    expect(s.log).toEqual([expect.stringMatching(/ERR_TLS_HANDSHAKE_TIMEOUT.*handshakeTimeout/)]);

    const s2 = await server({ tls: SERVER_TLS }); // handshakeTimeout 10 s
    const stalled: Socket = defer(netConnect({ host: '127.0.0.1', port: s2.port }), (socket) => socket.destroy());
    await new Promise((resolve) => stalled.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20)); // accepted by the provider
    const started = performance.now();
    await s2.server.close();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('server.setSecureContext', () => {
  it('new connections get the new certificate; live ones keep going', async () => {
    const s = await server({ tls: SERVER_TLS });
    const old = client(s.address, { tls: { ca: certs.ca } });
    const echo = old.refer(Echo);
    expect(await echo.echo('before')).toBe('before');

    s.server.setSecureContext({ key: certs.otherServer.key, cert: certs.otherServer.cert });
    expect(await echo.echo('after')).toBe('after'); // the live connection carries on
    expect(s.server.connectionsAccepted).toBe(1);
    const err = await failsFast(s.address, { tls: { ca: certs.ca } }); // a new one sees the new certificate...
    expect(rootCause(err).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await client(s.address, { tls: { ca: certs.otherCa } }).refer(Echo).echo('new')).toBe('new'); // ...signed by the other CA
    expect(old.connections()).toHaveLength(1);
  });

  it('merges into the current options (ca and requestCert stay), and refuses a bad update without changing anything', async () => {
    const s = await server({ tls: MTLS });
    s.server.setSecureContext({ key: certs.server2.key, cert: certs.server2.cert });
    expect(await client(s.address, { tls: CLIENT_MTLS }).refer(Echo).echo('rotated')).toBe('rotated');
    expect(s.server.connections()[0]!.tls).toMatchObject({ authorized: true, subject: { CN: 'test-client' } });

    expectThrowCode(() => s.server.setSecureContext({ key: certs.client.key }), 'INVALID_CONFIG'); // key of another certificate
    expectThrowCode(() => s.server.setSecureContext({ requestCert: false } as object), 'INVALID_CONFIG');
    expect(await client(s.address, { tls: CLIENT_MTLS }).refer(Echo).echo('still')).toBe('still');

    const plain = await server({});
    const err = expectThrowCode(() => plain.server.setSecureContext(SERVER_TLS), 'INVALID_CONFIG');
    expect(err.message).toMatch(/made without the tls option/);
  });
});
