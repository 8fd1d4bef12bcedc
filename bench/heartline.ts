// Heartline itself: the framework under src/, on the same echo workload.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Provider, Server, Service, type ClientTlsOptions, type ServerTlsOptions } from '../src/index.js';
import { makeCerts } from '../test/helpers/certs.js';
import type { EchoClient, EchoServer, EchoSystem } from './system.js';
import type { Payload } from './workload.js';

@Service('bench.Echo', { version: '1.0.0', methods: { echo: {}, bulk: {} } })
export abstract class Echo {
  abstract echo(x: Payload): Promise<Payload>;
  /** The head-of-line case's large call (bench/hol.ts): a Buffer, echoed. */
  abstract bulk(x: Buffer): Promise<Buffer>;
}

@Provider(Echo)
class EchoImpl implements Echo {
  async echo(x: Payload): Promise<Payload> {
    return x;
  }
  async bulk(x: Buffer): Promise<Buffer> {
    return x;
  }
}

/**
 * BENCH_INTERCEPTOR=1: one no-op interceptor on each side (`use((call, next) => next())`),
 * to measure what the interceptor chain costs against the bare call path (issue #8).
 */
const withInterceptor = process.env.BENCH_INTERCEPTOR === '1';
/** BENCH_CALL_SCOPE=0: the server runs with `callScope: false` (no AsyncLocalStorage scope per call). */
const callScope = process.env.BENCH_CALL_SCOPE !== '0';

async function serve(tls?: ServerTlsOptions): Promise<EchoServer> {
  const server = new Server({ host: '127.0.0.1', port: 0, tls, callScope });
  if (withInterceptor) server.use((_call, next) => next());
  server.register(new EchoImpl());
  const { port } = await server.listen();
  return { port, close: () => server.close() };
}

async function connect(ports: number[], tls?: ClientTlsOptions): Promise<EchoClient> {
  const client = new Client({ providers: ports.map((port) => `127.0.0.1:${port}`), tls });
  if (withInterceptor) client.use((_call, next) => next());
  const echo = client.refer(Echo);
  return {
    echo: (payload) => echo.echo(payload),
    bulk: (body) => echo.bulk(body),
    close: () => client.close(),
  };
}

export const system: EchoSystem = { serve, connect };

/** Three providers (three server processes) behind one reference, default load balancing. */
export const threeProviders: EchoSystem = { serve, connect };

/**
 * Over TLS (issue #10): TLS 1.3 with Node's defaults, P-256 certificates made
 * by test/helpers/certs.ts, the provider's verified by the consumer against
 * the test CA. The server child makes them in a directory named after the
 * orchestrator's pid, where the client child (started after it) reads the CA.
 */
const certDir = path.join(tmpdir(), `heartline-bench-tls-${process.ppid}`);

export const overTls: EchoSystem = {
  async serve() {
    const certs = makeCerts(certDir);
    const server = await serve({ key: certs.server.key, cert: certs.server.cert });
    return {
      port: server.port,
      close: async () => {
        await server.close();
        rmSync(certDir, { recursive: true, force: true });
      },
    };
  },
  connect: (ports) => connect(ports, { ca: readFileSync(path.join(certDir, 'ca.pem'), 'utf8') }),
};
