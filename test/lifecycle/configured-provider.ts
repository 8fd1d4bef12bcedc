// A provider in its own process, like test/helpers/child-provider.ts but with
// server options from the command line (that helper cannot set them, and the
// frozen-provider test needs a lower `minHeartbeat`):
//   node --import tsx test/lifecycle/configured-provider.ts '<ServerOptions as JSON>'
// Prints `LISTENING <port>` once it listens; exits when its stdin closes.
import { Server, silentLogger, type ServerOptions } from '../../src/index.js';
import { CalcImpl, EchoImpl, GreeterImpl } from '../helpers/contract.js';

const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100, ...options });
server.register(new EchoImpl()).register(new CalcImpl()).register(new GreeterImpl());
const address = await server.listen();
process.stdout.write(`LISTENING ${address.port}\n`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
