/**
 * A Greeter provider that publishes itself in etcd:
 *   npx tsx examples/etcd/provider.ts <name> [etcd hosts]
 * Serves until SIGTERM/SIGINT, then withdraws from etcd, drains and exits.
 */
import { EtcdRegistry, Server } from '../../src/index.js';
import { Greeter } from '../greeter/contract.js';
import { GreeterImpl } from '../greeter/provider.js';

const name = process.argv[2] ?? 'provider';
// A 3 s lease so the demo shows a crashed provider leave quickly; the default is 10 s.
const registry = new EtcdRegistry({ hosts: process.argv[3] ?? process.env.ETCD_HOSTS ?? 'http://127.0.0.1:2379', ttl: 3000 });
const impl = new GreeterImpl();
const server = new Server({ host: '127.0.0.1', port: 0, registry });
server.register(Greeter, {
  sayHello: async (who: string) => `Hello, ${who}! (from ${name})`,
  placeOrder: (o) => impl.placeOrder(o),
  slowSquare: (n) => impl.slowSquare(n),
  fail: (r) => impl.fail(r),
  sleep: (ms) => impl.sleep(ms),
  countTo: (n) => impl.countTo(n),
  lastCount: () => impl.lastCount(),
});
server.closeOnSignals();
const { port } = await server.listen();
console.log(`${name} listening on ${port}, published in etcd`);
