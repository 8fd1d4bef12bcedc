// Runs test/helpers/child-provider.ts in a child process so a test can SIGKILL
// or SIGSTOP the provider.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerOptions } from '../../src/index.js';

const CHILD_FILE = fileURLToPath(new URL('./child-provider.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildProvider {
  child: ChildProcess;
  port: number;
  /** `127.0.0.1:<port>` */
  address: string;
  /** Resolves with the exit signal (or code) once the process is gone. */
  exited: Promise<NodeJS.Signals | number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP: the process freezes, its sockets stay open. */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** SIGKILL and wait for the exit. Safe to call more than once. */
  dispose(): Promise<void>;
}

/**
 * Starts a provider child on `port` (0 for any), with server `options` (the
 * JSON-serialisable ones), and waits until it listens.
 */
export async function startChildProvider(port = 0, options: ServerOptions = {}, startTimeoutMs = 10_000): Promise<ChildProvider> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_FILE, String(port), JSON.stringify(options)], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const { exited, port: actualPort } = await untilListening(child, 'child provider', startTimeoutMs);
  const signal = (sig: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  return {
    child,
    port: actualPort,
    address: `127.0.0.1:${actualPort}`,
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

/**
 * Waits for a test child that prints `LISTENING <port>` once it listens.
 * Resolves with that port and the child's exit; SIGKILLs it and rejects (with
 * its stderr) when it exits first or does not listen within `timeoutMs`.
 */
export async function untilListening(
  child: ChildProcess,
  what: string,
  timeoutMs: number,
): Promise<{ port: number; exited: Promise<NodeJS.Signals | number | null> }> {
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
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
      reject(new Error(`${what} exited (${String(how)}) before listening: ${stderr}`));
    });
  });
  return { port, exited };
}
