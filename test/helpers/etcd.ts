// A real etcd for tests: a fresh server on free ports with a temporary data
// dir, stopped by its pid, its dir removed. `stop()` + `start()` simulate an
// outage (same ports, same data).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The etcd binary: `ETCD_BIN`, else `etcd` on the PATH. */
export const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';

/** The one line printed (by the global setup) when etcd is missing. */
export const ETCD_MISSING =
  `etcd tests skipped: no '${ETCD_BIN}' binary. Enable them with \`apt-get install etcd-server\` (or ETCD_BIN=/path/to/etcd); with CI=true a missing etcd fails.`;

let available: boolean | undefined;

/** True when the etcd binary runs. */
export function etcdAvailable(): boolean {
  available ??= spawnSync(ETCD_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
  return available;
}

export interface EtcdServer {
  /** `http://127.0.0.1:<port>` for EtcdRegistry's `hosts`. */
  readonly hosts: string;
  readonly dataDir: string;
  /** The pid of the running etcd, or undefined while stopped. */
  readonly pid: number | undefined;
  /** Stops etcd (SIGTERM by pid, SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data dir. */
  start(): Promise<void>;
  /** Stops it and removes its data dir. Idempotent. */
  dispose(): Promise<void>;
}

export async function startEtcd(): Promise<EtcdServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'heartline-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const hosts = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  const start = async (): Promise<void> => {
    log = '';
    const c = spawn(
      ETCD_BIN,
      [
        '--name', 'test',
        '--data-dir', dataDir,
        '--listen-client-urls', hosts,
        '--advertise-client-urls', hosts,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--logger', 'zap',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    c.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-2000)));
    exited = new Promise((resolve) => c.once('exit', () => resolve()));
    const deadline = performance.now() + 20_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`etcd exited (${c.exitCode}) at start: ${log}`);
      if (await healthy(hosts)) return;
      if (performance.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`etcd did not become healthy within 20 s: ${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    process.kill(c.pid!, 'SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    hosts,
    dataDir,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A free port on 127.0.0.1 (this file imports nothing from vitest: the global setup loads it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

async function healthy(hosts: string): Promise<boolean> {
  try {
    const res = await fetch(`${hosts}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}
