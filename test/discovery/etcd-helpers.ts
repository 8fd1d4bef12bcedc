// Shared pieces of the etcd tests: child providers that publish in etcd, and
// a consumer-side registry with a short TTL.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdRegistry, silentLogger, type ProviderInfo } from '../../src/index.js';

/** TTL of the tests' leases: 2 s (the default is 10 s), so a crashed provider goes within 3 s. */
export const TEST_TTL = 2000;

export interface ChildConfig {
  hosts: string;
  ttl: number;
  name: string;
  version?: string;
  group?: string;
  weight?: number;
  deregisterDelay?: number;
}

export interface EtcdChild {
  child: ChildProcess;
  name: string;
  port: number;
  address: string;
  exited: Promise<NodeJS.Signals | number | null>;
  /** SIGKILL (if running) and wait for the exit. */
  dispose(): Promise<void>;
}

const CHILD_FILE = fileURLToPath(new URL('./etcd-provider.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function startEtcdChild(config: Omit<ChildConfig, 'ttl'> & { ttl?: number }): Promise<EtcdChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_FILE, JSON.stringify({ ttl: TEST_TTL, ...config })], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`etcd child ${config.name} did not start within 20 s: ${stderr}`));
    }, 20_000);
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
      reject(new Error(`etcd child ${config.name} exited (${String(how)}) before listening: ${stderr}`));
    });
  });
  return {
    child,
    name: config.name,
    port,
    address: `127.0.0.1:${port}`,
    exited,
    dispose: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export function testRegistry(hosts: string, ttl = TEST_TTL): EtcdRegistry {
  return new EtcdRegistry({ hosts, ttl, logger: silentLogger });
}

/** `host:port` of each listed provider, sorted. */
export function addresses(list: readonly ProviderInfo[]): string[] {
  return list.map((p) => p.address.key).sort();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
