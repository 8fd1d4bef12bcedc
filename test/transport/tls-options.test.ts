// The `tls` options of Client and Server (issue #10): checked when the Client or
// Server is made, INVALID_CONFIG naming the field; Node's own check of the PEM
// texts runs then too, so a bad certificate never waits for the first connection.
import { describe, expect, it } from 'vitest';
import { Client, Server, silentLogger, type ClientOptions, type ServerOptions } from '../../src/index.js';
import { resolveClientOptions } from '../../src/consumer/client-options.js';
import { resolveServerOptions } from '../../src/provider/server-options.js';
import { testCerts } from '../helpers/certs.js';
import { expectThrowCode } from '../helpers/server.js';

const certs = testCerts();

function clientFails(tls: unknown, named: string | RegExp): void {
  const err = expectThrowCode(() => new Client({ logger: silentLogger, tls } as ClientOptions), 'INVALID_CONFIG');
  if (typeof named === 'string') expect(err.message).toContain(named);
  else expect(err.message).toMatch(named);
  expect(err.message).not.toContain('PRIVATE KEY'); // never the key itself
}

function serverFails(tls: unknown, named: string | RegExp): void {
  const err = expectThrowCode(() => new Server({ logger: silentLogger, tls } as ServerOptions), 'INVALID_CONFIG');
  if (typeof named === 'string') expect(err.message).toContain(named);
  else expect(err.message).toMatch(named);
  expect(err.message).not.toContain('PRIVATE KEY');
}

describe('Client tls', () => {
  it('defaults: none (plain TCP); with tls, rejectUnauthorized true and no servername', () => {
    expect(resolveClientOptions({}).tls).toBeUndefined();
    const tls = resolveClientOptions({ tls: { ca: certs.ca } }).tls!;
    expect(tls).toMatchObject({ rejectUnauthorized: true, servername: undefined, checkServerIdentity: undefined });
    expect(Object.isFrozen(tls)).toBe(true);
    expect(resolveClientOptions({ tls: {} }).tls!.rejectUnauthorized).toBe(true); // Node's bundled CAs
    expect(resolveClientOptions({ tls: { ca: certs.ca, rejectUnauthorized: false, servername: 'svc.internal' } }).tls).toMatchObject({ rejectUnauthorized: false, servername: 'svc.internal' });
  });

  it.each([[1], ['pem'], [null], [[]], [true]])('tls %o is refused', (value) => clientFails(value, 'tls must be an object'));

  it('each field is checked and named', () => {
    clientFails({ servername: 5 }, 'tls.servername must be a host name');
    clientFails({ servername: '' }, 'tls.servername must be a host name');
    clientFails({ servername: '127.0.0.1' }, 'tls.servername must be a host name (not an IP address');
    clientFails({ rejectUnauthorized: 'no' }, 'tls.rejectUnauthorized must be true or false');
    clientFails({ checkServerIdentity: 'strict' }, 'tls.checkServerIdentity must be a function');
    clientFails({ requestCert: true }, 'tls.requestCert is a server option');
    clientFails({ key: certs.client.key }, 'tls.cert is missing');
    clientFails({ cert: certs.client.cert }, 'tls.key is missing');
  });

  it('Node checks the PEM texts and the key against the certificate at new Client()', () => {
    clientFails({ ca: '/etc/ssl/ca.pem' }, 'tls.ca must be PEM certificates (the contents of the file, not its path)');
    clientFails({ ca: [certs.ca, 5] }, 'tls.ca[1] must be PEM text');
    clientFails({ key: certs.server.key, cert: certs.client.cert }, /^tls is not a usable TLS configuration: .*key values mismatch/i);
    clientFails({ minVersion: 'TLSv9' }, /^tls is not a usable TLS configuration: /);
  });
});

describe('Server tls', () => {
  it('defaults: none (plain TCP); with tls, requestCert false and rejectUnauthorized true, in a frozen copy', () => {
    expect(resolveServerOptions({}).tls).toBeUndefined();
    const given = { key: certs.server.key, cert: certs.server.cert };
    const tls = resolveServerOptions({ tls: given }).tls!;
    expect(tls).toMatchObject({ ...given, requestCert: false, rejectUnauthorized: true });
    expect(tls).not.toBe(given);
    expect(Object.isFrozen(tls)).toBe(true);
    expect(given).toEqual({ key: certs.server.key, cert: certs.server.cert }); // not mutated
  });

  it('a TLS server needs a certificate', () => {
    serverFails({}, 'tls must have key and cert (or pfx)');
    serverFails({ ca: certs.ca }, 'tls must have key and cert (or pfx)');
    serverFails({ key: certs.server.key }, 'tls.cert is missing');
    serverFails({ cert: certs.server.cert }, 'tls.key is missing');
  });

  it('each field is checked and named', () => {
    serverFails({ key: certs.server.key, cert: certs.server.cert, requestCert: 'yes' }, 'tls.requestCert must be true or false');
    serverFails({ key: certs.server.key, cert: certs.server.cert, rejectUnauthorized: 0 }, 'tls.rejectUnauthorized must be true or false');
    serverFails({ key: certs.server.key, cert: certs.server.cert, servername: 'x' }, 'tls.servername is a client option');
  });

  it('Node checks the PEM texts and the key against the certificate at new Server()', () => {
    serverFails({ key: 'garbage', cert: certs.server.cert }, /^tls is not a usable TLS configuration: /);
    serverFails({ key: certs.client.key, cert: certs.server.cert }, /^tls is not a usable TLS configuration: .*key values mismatch/i);
    serverFails({ key: certs.server.key, cert: certs.server.cert, ca: Buffer.from('nope') }, 'tls.ca must be PEM certificates');
  });
});
