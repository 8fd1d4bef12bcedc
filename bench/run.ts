// Heartline benchmark orchestrator (`npm run bench`).
//
// For each system it forks its server child(ren) and a client child (never the same
// process), runs every (size, in-flight) case over one connection, and prints
// markdown tables. Environment knobs:
//   BENCH_SYSTEMS=floor,grpc,heartline,heartline3,heartline-tls   BENCH_SIZES=64B,16KiB
//   BENCH_INFLIGHT=1,32,512              BENCH_SECONDS=3 (measured window)
//   BENCH_WARMUP=1 (seconds)             BENCH_JSON=path/to/results.json
//   BENCH_PIN=1    pin server and client to different CPUs with taskset
//                  (default off; see pinningEnabled below)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseResult, DriveConfig, DriveMessage } from './drive.js';
import { progressLine, ratioTable, resultsTable } from './report.js';
import type { ServeMessage } from './serve.js';
import { SERVER_COUNT, SYSTEM_NAMES, isSystemName, type SystemName } from './system.js';
import { SIZES, type SizeName } from './workload.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

function listEnv(name: string, fallback: readonly string[]): string[] {
  const raw = process.env[name]?.trim();
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [...fallback];
}

function usage(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function secondsEnv(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) usage(`${name} must be a non-negative number`);
  return v;
}

const systems = listEnv('BENCH_SYSTEMS', SYSTEM_NAMES);
const sizes = listEnv('BENCH_SIZES', Object.keys(SIZES));
const inflights = listEnv('BENCH_INFLIGHT', ['1', '32', '512']).map(Number);
const measureMs = secondsEnv('BENCH_SECONDS', 3) * 1000;
const warmupMs = secondsEnv('BENCH_WARMUP', 1) * 1000;

for (const s of systems) if (!isSystemName(s)) usage(`unknown system "${s}" (known: ${SYSTEM_NAMES.join(', ')})`);
for (const s of sizes) if (!(s in SIZES)) usage(`unknown size "${s}" (known: ${Object.keys(SIZES).join(', ')})`);
for (const n of inflights) if (!Number.isInteger(n) || n < 1) usage(`bad BENCH_INFLIGHT entry "${n}"`);
if (measureMs === 0) usage('BENCH_SECONDS must be > 0');

const live = new Set<ChildProcess>();

/**
 * Where a ping-pong pair lands decides the 1-in-flight latency: on a VM a
 * cross-CPU wake-up costs ~40 µs more than a same-CPU switch, and the scheduler
 * picks differently from case to case, so unpinned x1 numbers are bimodal.
 * BENCH_PIN=1 pins the server and the client to different CPUs (every system
 * then pays the same cross-CPU price); off by default because pinning also
 * confines each process's GC and libuv threads and hurts on a busy machine.
 */
function pinningEnabled(): boolean {
  const env = process.env.BENCH_PIN?.trim();
  if (!env || env === '0' || env === 'false' || env === 'off') return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    usage('BENCH_PIN is set but taskset is not usable');
  }
  if (os.cpus().length < 2) usage('BENCH_PIN needs at least 2 CPUs');
  return true;
}
const pin = pinningEnabled();
const CPU = { server: 1, client: 0 } as const;

function tsxImport(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

function spawnChild(file: string, args: string[], cpu: number): ChildProcess {
  // BENCH_PROFILE=dir writes a V8 CPU profile of every child into dir (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE?.trim() ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE.trim()}`] : [];
  const node = [process.execPath, ...profile, '--import', tsxImport(), '--expose-gc', path.join(HERE, file), ...args];
  const [cmd, ...rest] = pin ? ['taskset', '-c', String(cpu), ...node] : node;
  const child = spawn(cmd!, rest, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Politely stop a child, then SIGKILL it if it lingers. */
async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.send({ type: 'stop' }, () => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

function startServer(system: SystemName): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnChild('serve.ts', [system], CPU.server);
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error('server did not report a port within 30 s')), 30_000);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.on('message', (m: ServeMessage) => {
      if (m.type === 'error') return fail(new Error(m.message));
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ child, port: m.port });
    });
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`server exited early (${signal ?? code})`)));
  });
}

function runClient(cfg: DriveConfig, onResult: (r: CaseResult) => void, onCaseError: (msg: string) => void): Promise<void> {
  const child = spawnChild('drive.ts', [JSON.stringify(cfg)], CPU.client);
  return new Promise((resolve, reject) => {
    let done = false;
    child.on('message', (m: DriveMessage) => {
      if (m.type === 'result') onResult(m.result);
      else if (m.type === 'case-error') onCaseError(`${m.system} ${m.size} x${m.inflight}: ${m.message}`);
      else done = true;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      done ? resolve() : reject(new Error(`client exited before finishing (${signal ?? code})`)),
    );
  });
}

function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const cases = sizes.flatMap((size) => inflights.map((inflight) => ({ size: size as SizeName, inflight })));
  const perCase = (warmupMs + measureMs) / 1000;
  console.log(
    `# Heartline bench: node ${process.version}, ${os.cpus().length} CPUs, ` +
      `warm-up ${warmupMs / 1000}s + measure ${measureMs / 1000}s per case, ` +
      `~${Math.round(perCase * cases.length * systems.length)}s of load, ` +
      (pin ? `server pinned to CPU ${CPU.server}, client to CPU ${CPU.client}\n` : 'no CPU pinning (x1 latency can be bimodal, see BENCH_PIN)\n'),
  );

  const results: CaseResult[] = [];
  const problems: string[] = [];
  let failed = false;

  for (const system of systems as SystemName[]) {
    const servers: { child: ChildProcess; port: number }[] = [];
    try {
      const count = SERVER_COUNT[system] ?? 1;
      for (let i = 0; i < count; i++) servers.push(await startServer(system));
      await runClient(
        { system, ports: servers.map((s) => s.port), cases, warmupMs, measureMs },
        (r) => {
          results.push(r);
          console.log(progressLine(r));
          if (r.errors) failed = true;
        },
        (msg) => {
          failed = true;
          problems.push(msg);
          console.log(`${system.padEnd(10)} FAILED ${msg}`);
        },
      );
    } catch (err) {
      failed = true;
      const msg = `${system}: ${err instanceof Error ? err.message : String(err)}`;
      problems.push(msg);
      console.log(`${system.padEnd(10)} FAILED ${msg}`);
    } finally {
      await Promise.all(servers.map((s) => stopChild(s.child)));
    }
  }

  console.log(`\n## Results\n\n${resultsTable(results)}\n`);
  const ratios = ratioTable(results, 'heartline');
  console.log(`## heartline / floor\n\n${ratios ?? '(needs both floor and heartline results)'}\n`);
  const three = ratioTable(results, 'heartline3', 'heartline');
  if (three) console.log(`## heartline3 (3 providers behind one reference) / heartline (one provider)\n\n${three}\n`);
  const tls = ratioTable(results, 'heartline-tls', 'heartline');
  if (tls) console.log(`## heartline-tls (TLS 1.3) / heartline (plain TCP)\n\n${tls}\n`);
  const errored = results.filter((r) => r.errors > 0);
  for (const r of errored) problems.push(`${r.system} ${r.size} x${r.inflight}: ${r.errors} errors, first: ${r.firstError}`);
  if (problems.length) console.log(`## Problems\n\n${problems.map((p) => `- ${p}`).join('\n')}\n`);

  const jsonPath = process.env.BENCH_JSON;
  if (jsonPath) {
    const file = path.resolve(jsonPath);
    mkdirSync(path.dirname(file), { recursive: true });
    const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, warmupMs, measureMs, pinned: pin };
    writeFileSync(file, `${JSON.stringify({ meta, results, problems }, null, 2)}\n`);
    console.log(`results written to ${file}`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
