// Test certificates for TLS (issue #10), made at test time with the `openssl`
// binary: P-256 keys, so the whole set takes a few tens of milliseconds.
//
//   ca ──┬── server      CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
//        ├── client      CN=test-client (clientAuth)
//        ├── expired     as server, valid 2020-01-01 .. 2020-01-02 only
//        ├── otherHost   CN=other.example, SAN DNS:other.example
//        └── server2     as server, another key (certificate rotation)
//   otherCa ─┬── stranger   CN=stranger, a client certificate of an unknown CA
//            └── otherServer as server, signed by the other CA
//
// The PEM texts are read into memory and the temporary directory is removed
// before `makeCerts()` returns, unless a directory is given (the bench keeps it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  /** PEM private key. */
  key: string;
  /** PEM certificate. */
  cert: string;
}

export interface TestCerts {
  /** PEM certificate of the CA that signed `server`, `client`, `expired`, `otherHost` and `server2`. */
  ca: string;
  /** PEM certificate of an unrelated CA. */
  otherCa: string;
  server: KeyPair;
  /** Same names as `server`, another key: for `setSecureContext`. */
  server2: KeyPair;
  client: KeyPair;
  expired: KeyPair;
  otherHost: KeyPair;
  /** A client certificate signed by `otherCa`. */
  stranger: KeyPair;
  /** A server certificate for localhost signed by `otherCa`. */
  otherServer: KeyPair;
}

const SERVER_EXT = 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n';
const OTHER_HOST_EXT = 'subjectAltName=DNS:other.example\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

let cached: TestCerts | undefined;

/** The certificate set, made once per process (so once per test file). */
export function testCerts(): TestCerts {
  cached ??= makeCerts();
  return cached;
}

/** Makes the whole set. With `keepIn`, the PEM files stay in that directory (created if needed). */
export function makeCerts(keepIn?: string): TestCerts {
  const dir = keepIn ?? mkdtempSync(join(tmpdir(), 'heartline-certs-'));
  mkdirSync(dir, { recursive: true });
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  try {
    writeFileSync(at('server.ext'), SERVER_EXT);
    writeFileSync(at('client.ext'), CLIENT_EXT);
    writeFileSync(at('other-host.ext'), OTHER_HOST_EXT);
    const selfSigned = (name: string, cn: string): void =>
      openssl('req', '-x509', ...EC, '-keyout', at(`${name}.key`), '-out', at(`${name}.pem`), '-days', '3', '-subj', `/CN=${cn}`);
    selfSigned('ca', 'Heartline Test CA');
    selfSigned('other-ca', 'Heartline Other CA');

    let serial = 100;
    const issue = (name: string, cn: string, ext: string, ca: string): void => {
      openssl('req', ...EC, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=${cn}`);
      openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at(`${ca}.pem`), '-CAkey', at(`${ca}.key`), '-set_serial', String(serial++), '-days', '3', '-extfile', at(ext), '-out', at(`${name}.pem`));
    };
    issue('server', 'localhost', 'server.ext', 'ca');
    issue('server2', 'localhost', 'server.ext', 'ca');
    issue('client', 'test-client', 'client.ext', 'ca');
    issue('other-host', 'other.example', 'other-host.ext', 'ca');
    issue('stranger', 'stranger', 'client.ext', 'other-ca');
    issue('other-server', 'localhost', 'server.ext', 'other-ca');

    // An expired certificate: `openssl x509 -req` (3.0) cannot back-date, `openssl ca` can.
    mkdirSync(at('ca-db'), { recursive: true });
    writeFileSync(at('ca-db/index.txt'), '');
    writeFileSync(at('ca-db/serial'), '1000\n');
    writeFileSync(
      at('ca.cnf'),
      '[ca]\ndefault_ca = test\n[test]\ndatabase = ca-db/index.txt\nnew_certs_dir = ca-db\nserial = ca-db/serial\n' +
        'default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n',
    );
    openssl('req', ...EC, '-keyout', at('expired.key'), '-out', at('expired.csr'), '-subj', '/CN=localhost');
    openssl('ca', '-batch', '-notext', '-config', at('ca.cnf'), '-cert', at('ca.pem'), '-keyfile', at('ca.key'),
      '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', at('server.ext'), '-in', at('expired.csr'), '-out', at('expired.pem'));

    const read = (name: string): string => readFileSync(at(name), 'utf8');
    const pair = (name: string): KeyPair => ({ key: read(`${name}.key`), cert: read(`${name}.pem`) });
    return {
      ca: read('ca.pem'),
      otherCa: read('other-ca.pem'),
      server: pair('server'),
      server2: pair('server2'),
      client: pair('client'),
      expired: pair('expired'),
      otherHost: pair('other-host'),
      stranger: pair('stranger'),
      otherServer: pair('other-server'),
    };
  } finally {
    if (keepIn === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
