// Starts test/cluster/signal-provider.ts in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('./signal-provider.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface SignalChild {
  child: ChildProcess;
  port: number;
  address: string;
  /** Everything the child printed. */
  output(): string;
  /** The exit code (or signal) once it exits. */
  exited: Promise<number | string | null>;
  /** SIGKILL if still running, and wait for the exit. */
  dispose(): Promise<void>;
}

export async function startSignalChild(port = 0, name = 'child', startTimeoutMs = 10_000): Promise<SignalChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', FILE, String(port), name], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const dispose = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    child.stdin?.destroy();
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  const listening = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not listen within ${startTimeoutMs} ms: ${err}`)), startTimeoutMs);
    const check = (): void => {
      const m = /LISTENING (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${String(how)}) before listening: ${err}`));
    });
  }).catch(async (e: unknown) => {
    await dispose();
    throw e;
  });
  return { child, port: listening, address: `127.0.0.1:${listening}`, output: () => out, exited, dispose };
}
