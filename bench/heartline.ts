// Heartline itself: the framework under src/, on the same echo workload.
import { Client, Provider, Server, Service } from '../src/index.js';
import type { EchoClient, EchoServer, EchoSystem } from './system.js';
import type { Payload } from './workload.js';

@Service('bench.Echo', { version: '1.0.0', methods: { echo: {} } })
export abstract class Echo {
  abstract echo(x: Payload): Promise<Payload>;
}

@Provider(Echo)
class EchoImpl implements Echo {
  async echo(x: Payload): Promise<Payload> {
    return x;
  }
}

async function serve(): Promise<EchoServer> {
  const server = new Server({ host: '127.0.0.1', port: 0 });
  server.register(new EchoImpl());
  const { port } = await server.listen();
  return { port, close: () => server.close() };
}

async function connect(ports: number[]): Promise<EchoClient> {
  const client = new Client({ providers: ports.map((port) => `127.0.0.1:${port}`) });
  const echo = client.refer(Echo);
  return {
    echo: (payload) => echo.echo(payload),
    close: () => client.close(),
  };
}

export const system: EchoSystem = { serve, connect };

/** Three providers (three server processes) behind one reference, default load balancing. */
export const threeProviders: EchoSystem = { serve, connect };
