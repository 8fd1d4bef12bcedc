/**
 * `npm run example:observability`: a provider and a consumer in one process,
 * their metrics on a prom-client registry served at /metrics over node:http
 * (port 0; the URL is printed), a few calls (successes, a handler error, a
 * LIMIT_EXCEEDED), then one scrape printed. Exits 0 (1 if anything went wrong).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { Client, HeartlineError, Provider, Server, Service, silentLogger } from '../../src/index.js';
import { collectMetrics } from '../../src/metrics/index.js';

@Service('demo.Inventory', { methods: { stock: {}, reserve: {}, audit: {} } })
abstract class Inventory {
  abstract stock(item: string): Promise<number>;
  abstract reserve(item: string, count: number): Promise<number>;
  /** Slow, and capped at one at a time on the provider (`executes: 1`). */
  abstract audit(ms: number): Promise<string>;
}

@Provider(Inventory, { methods: { audit: { executes: 1 } } })
class InventoryImpl implements Inventory {
  private readonly items = new Map([['apple', 10], ['pear', 3]]);

  async stock(item: string): Promise<number> {
    return this.items.get(item) ?? 0;
  }

  async reserve(item: string, count: number): Promise<number> {
    const left = (this.items.get(item) ?? 0) - count;
    if (left < 0) throw new Error(`only ${this.items.get(item) ?? 0} ${item} left`);
    this.items.set(item, left);
    return left;
  }

  async audit(ms: number): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'ok';
  }
}

const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger });
server.register(new InventoryImpl());
const { port } = await server.listen();
const client = new Client({ providers: [`127.0.0.1:${port}`], logger: silentLogger });

// One registry for this process: Node's own metrics and Heartline's.
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const metrics = collectMetrics({ registry, clients: [client], servers: [server] });

const http = createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  registry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
    (err: Error) => res.writeHead(500).end(err.message),
  );
});
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
console.log(`metrics at ${url}`);

try {
  const inventory = client.refer(Inventory, { cluster: 'failfast' });
  console.log('stock of apple:', await inventory.stock('apple'));
  console.log('reserve 4 apples, left:', await inventory.reserve('apple', 4));
  try {
    await inventory.reserve('pear', 5);
  } catch (err) {
    console.log('reserve 5 pears:', (err as HeartlineError).code, (err as HeartlineError).message);
  }
  // Two audits at once: the provider runs one (executes: 1) and refuses the other.
  const [first, second] = await Promise.allSettled([inventory.audit(50), inventory.audit(50)]);
  console.log('audits:', first.status === 'fulfilled' ? first.value : (first.reason as HeartlineError).code, second.status === 'fulfilled' ? second.value : (second.reason as HeartlineError).code);

  const res = await fetch(url);
  const text = await res.text();
  console.log(`\nGET ${url}: ${res.status}, Heartline's series (buckets left out):\n`);
  console.log(
    text
      .split('\n')
      .filter((line) => line.startsWith('heartline_') && !line.includes('_bucket{'))
      .join('\n'),
  );
} catch (err) {
  console.error('example failed:', err);
  process.exitCode = 1;
} finally {
  metrics.close();
  await new Promise((resolve) => http.close(resolve));
  await client.close();
  await server.close();
}
