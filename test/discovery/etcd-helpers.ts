// Shared pieces of the etcd tests: child providers that publish in etcd, and
// a consumer-side registry with a short TTL.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EtcdRegistry, silentLogger, type ProviderInfo } from '../../src/index.js';
import { untilListening } from '../helpers/child-process.js';

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
  const { port, exited } = await untilListening(child, `etcd child ${config.name}`, 20_000);
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
