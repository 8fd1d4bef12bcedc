// A provider in its own process that shuts down gracefully on SIGTERM/SIGINT
// (`server.closeOnSignals()`):
//   node --import tsx test/cluster/signal-provider.ts [port] [name]
// Prints `LISTENING <port>` once it listens. Exits when its stdin closes, so
// it never outlives the test.
import { Server, silentLogger } from '../../src/index.js';
import { WorkImpl } from './cluster-helpers.js';

const port = Number(process.argv[2] ?? 0);
const name = process.argv[3] ?? 'child';
const server = new Server({ host: '127.0.0.1', port, logger: silentLogger, closeGracePeriod: 5000 });
server.register(new WorkImpl(name));
server.closeOnSignals();
const address = await server.listen();
process.stdout.write(`LISTENING ${address.port}\n`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
