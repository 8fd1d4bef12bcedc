/**
 * `npm run example:secure`: a provider served over mutual TLS that also wants
 * a token, and three consumers: one accepted (its call runs, and the handler
 * sees who called), one with a wrong token (UNAUTHENTICATED: nothing runs),
 * and one calling a method its principal may not call (PERMISSION_DENIED).
 * Throwaway certificates are made with the `openssl` binary in a temporary
 * directory, deleted at the end. Exits 0 when every outcome is the expected
 * one (1 otherwise).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, currentCall, HeartlineError, Provider, Server, Service, sharedSecret, silentLogger, type ErrorCode } from '../../src/index.js';

@Service('example.Accounts', { version: '1.0.0', methods: { balance: {}, close: {} } })
abstract class Accounts {
  abstract balance(account: string): Promise<string>;
  abstract close(account: string): Promise<void>;
}

/** Who a consumer is, as `authenticate` decides it. */
interface Principal {
  /** The client certificate's common name. */
  cn: string;
}

@Provider(Accounts, {
  // Only the `ops` certificate may close accounts; anyone authenticated may read.
  authorize: (call) => call.method !== 'close' || (call.principal as Principal).cn === 'ops',
})
class AccountsImpl implements Accounts {
  async balance(account: string): Promise<string> {
    const who = currentCall()?.principal as Principal;
    return `${account}: 42.00 EUR (asked by ${who.cn})`;
  }

  async close(account: string): Promise<void> {
    throw new Error(`never reached for ${account}`);
  }
}

/** A CA, a certificate for the provider (localhost, 127.0.0.1), and one for the consumer (CN=billing). */
function makeCerts(): { ca: string; server: { key: string; cert: string }; client: { key: string; cert: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'heartline-secure-'));
  const at = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    openssl('req', '-x509', ...EC, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', '/CN=Example CA');
    writeFileSync(at('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    writeFileSync(at('client.ext'), 'extendedKeyUsage=clientAuth\n');
    const issue = (name: string, cn: string, serial: string): { key: string; cert: string } => {
      openssl('req', ...EC, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=${cn}`);
      openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-set_serial', serial, '-days', '1', '-extfile', at(`${name}.ext`), '-out', at(`${name}.pem`));
      return { key: readFileSync(at(`${name}.key`), 'utf8'), cert: readFileSync(at(`${name}.pem`), 'utf8') };
    };
    const server = issue('server', 'localhost', '1');
    const client = issue('client', 'billing', '2');
    return { ca: readFileSync(at('ca.pem'), 'utf8'), server, client };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TOKEN = 'example-shared-token'; // in real life: from a secret store, never in the code
const certs = makeCerts();
const token = sharedSecret(TOKEN);

const server = new Server({
  host: '127.0.0.1',
  port: 0,
  logger: silentLogger,
  tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true },
  // Both the certificate (checked by TLS) and the token (checked here) must be right.
  authenticate: (hello, peer) => {
    token(hello); // throws UNAUTHENTICATED for a wrong or missing token
    const cn = peer.tls?.subject?.CN;
    if (peer.tls?.authorized !== true || typeof cn !== 'string') throw new HeartlineError('UNAUTHENTICATED', 'a verified client certificate is required');
    const principal: Principal = { cn };
    return { principal };
  },
});
server.register(new AccountsImpl());
const { port } = await server.listen();
console.log(`provider: mutual TLS + token on 127.0.0.1:${port}`);

const tls = { ca: certs.ca, key: certs.client.key, cert: certs.client.cert };
const clients: Client[] = [];
function consumer(credentials: string): Accounts {
  const client = new Client({ providers: [`127.0.0.1:${port}`], tls, credentials, logger: silentLogger, cluster: 'failfast' });
  clients.push(client);
  return client.refer(Accounts);
}

/** Runs `call`, prints what came back, and says whether it is what was expected. */
async function expect(label: string, call: Promise<unknown>, expected: 'ok' | ErrorCode): Promise<boolean> {
  try {
    const value = await call;
    console.log(`${label}: ok, ${JSON.stringify(value)}`);
    return expected === 'ok';
  } catch (err) {
    const code = err instanceof HeartlineError ? err.code : String(err);
    console.log(`${label}: ${code} (${(err as Error).message})`);
    return code === expected;
  }
}

let ok = false;
try {
  const results = [
    await expect('right certificate, right token, balance()', consumer(TOKEN).balance('FR76-0001'), 'ok'),
    await expect('right certificate, wrong token, balance()', consumer('guessed-token').balance('FR76-0001'), 'UNAUTHENTICATED'),
    await expect('right certificate, right token, close()', consumer(TOKEN).close('FR76-0001'), 'PERMISSION_DENIED'),
  ];
  ok = results.every(Boolean);
} catch (err) {
  console.error('example failed:', err);
} finally {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
}
console.log(ok ? 'every outcome as expected' : 'an outcome was not the expected one');
process.exitCode = ok ? 0 : 1;
