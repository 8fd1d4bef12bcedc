// CPU time per call of the provider alone: `npx tsx bench/provider-cpu.ts [inflight] [bytes] [calls]`.
// The server runs in this process (ROOT's src/, as in cpu.ts), the consumer in a child process
// (CLIENT_ROOT's src/, default this checkout), so the consumer's work is not counted.
// CALL_SCOPE=0 makes the server with `callScope: false`.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoService } from './cpu-echo.js';

const here = fileURLToPath(import.meta.url);
const checkout = path.resolve(path.dirname(here), '..');
const inflight = Number(process.argv[2] ?? 32);
const size = Number(process.argv[3] ?? 64);
const calls = Number(process.argv[4] ?? 100_000);

if (process.argv[5] === 'child') {
  const port = Number(process.argv[6]);
  const { Service, Provider, Client, silentLogger } = await import(path.join(process.env.CLIENT_ROOT ?? checkout, 'src/index.ts'));
  const { Echo } = echoService({ Service, Provider });
  const client = new Client({ providers: [`127.0.0.1:${port}`], logger: silentLogger });
  const echo = client.refer(Echo);
  const payload = { id: 7, name: 'bench', tags: ['a', 'bb', 'ccc'], data: Buffer.alloc(size, 7) };
  const run = async (n: number): Promise<void> => {
    let left = n;
    await Promise.all(Array.from({ length: inflight }, async () => { while (left-- > 0) await echo.echo(payload); }));
  };
  await run(20_000);
  await new Promise<void>((resolve) => process.send!('warm', () => resolve()));
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  await run(calls);
  await new Promise<void>((resolve) => process.send!('done', () => resolve()));
  await client.close();
  process.exit(0);
} else {
  const root = process.env.ROOT ?? checkout;
  const { Service, Provider, Server, silentLogger } = await import(path.join(root, 'src/index.ts'));
  const { provider } = echoService({ Service, Provider });
  const callScope = process.env.CALL_SCOPE !== '0';
  const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, ...(callScope ? {} : { callScope: false }) });
  server.register(provider);
  const { port } = await server.listen();
  const child = fork(here, [String(inflight), String(size), String(calls), 'child', String(port)], { execArgv: ['--import', 'tsx'] });
  await new Promise((resolve) => child.once('message', resolve));
  const cpu0 = process.cpuUsage();
  child.send('go');
  await new Promise((resolve) => child.once('message', resolve));
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ root, callScope, inflight, size, calls, cpuUsPerCall: +((cpu.user + cpu.system) / calls).toFixed(3) }));
  await server.close();
}
