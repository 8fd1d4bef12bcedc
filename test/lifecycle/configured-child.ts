// Starts test/lifecycle/configured-provider.ts in a child process, with the
// same handle as test/helpers/child-process.ts (which always starts the
// default-configured provider).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '../../src/index.js';
import type { ChildProvider } from '../helpers/child-process.js';

const CHILD_FILE = fileURLToPath(new URL('./configured-provider.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Starts a provider child with `options` (JSON-serialisable ones only) and waits until it listens. */
export async function startConfiguredChild(options: ServerOptions = {}, startTimeoutMs = 10_000): Promise<ChildProvider> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_FILE, JSON.stringify(options)], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const signal = (sig: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      signal('SIGKILL');
      reject(new Error(`child provider did not start within ${startTimeoutMs} ms: ${stderr}`));
    }, startTimeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /LISTENING (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`child provider exited (${String(how)}) before listening: ${stderr}`));
    });
  });
  return {
    child,
    port,
    address: `127.0.0.1:${port}`,
    exited,
    kill: (sig = 'SIGKILL') => signal(sig),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async dispose() {
      signal('SIGKILL');
      await exited;
      child.stdin?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
}
