/**
 * `npm run example`: starts the provider in a child process, runs the consumer
 * against it, stops the provider and exits 0 (1 if anything went wrong).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runConsumer } from './consumer.js';

const providerFile = fileURLToPath(new URL('./provider.ts', import.meta.url));
const child = spawn(process.execPath, ['--import', 'tsx', providerFile], { stdio: ['ignore', 'pipe', 'inherit'] });

try {
  const lines = createInterface({ input: child.stdout! });
  let port: number | undefined;
  for await (const line of lines) {
    const match = /listening on (\d+)/.exec(line);
    if (match) {
      port = Number(match[1]);
      break;
    }
  }
  if (port === undefined) throw new Error('the provider did not start');
  console.log(`provider started on 127.0.0.1:${port} (pid ${child.pid})`);
  await runConsumer(`127.0.0.1:${port}`);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  console.log(`provider drained and exited (${code})`);
} catch (err) {
  console.error('example failed:', err);
  child.kill('SIGKILL');
  process.exitCode = 1;
}
