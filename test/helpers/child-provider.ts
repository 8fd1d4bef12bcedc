// A provider in its own process:
//   node --import tsx test/helpers/child-provider.ts [port] ['<ServerOptions as JSON>']
// Prints `LISTENING <port>` on stdout once it listens. Exits when its stdin
// closes, so it never outlives the test process that started it.
import { Server, silentLogger, type ServerOptions } from '../../src/index.js';
import { CalcImpl, EchoImpl, GreeterImpl } from './contract.js';

const port = Number(process.argv[2] ?? 0);
const options = JSON.parse(process.argv[3] ?? '{}') as ServerOptions;
const server = new Server({ host: '127.0.0.1', port, logger: silentLogger, closeGracePeriod: 100, ...options });
server.register(new EchoImpl()).register(new CalcImpl()).register(new GreeterImpl());
const address = await server.listen();
process.stdout.write(`LISTENING ${address.port}\n`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
