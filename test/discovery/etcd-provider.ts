// A provider in its own process that publishes in etcd:
//   node --import tsx test/discovery/etcd-provider.ts '<ChildConfig as JSON>'
// Prints `LISTENING <port>` once it listens and is published. SIGTERM closes
// it gracefully (withdraw, deregisterDelay, drain); stdin's end exits at once.
import { EtcdRegistry, Server, silentLogger } from '../../src/index.js';
import { WorkImpl } from '../cluster/cluster-helpers.js';
import type { ChildConfig } from './etcd-helpers.js';

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const registry = new EtcdRegistry({ hosts: config.hosts, ttl: config.ttl, logger: silentLogger });
const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 5000, deregisterDelay: config.deregisterDelay });
server.register(new WorkImpl(config.name), { version: config.version, group: config.group });
server.publish(registry, { weight: config.weight, metadata: { name: config.name } });
server.closeOnSignals();
const address = await server.listen();
process.stdout.write(`LISTENING ${address.port}\n`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
