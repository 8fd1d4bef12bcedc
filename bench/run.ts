// Heartline benchmark orchestrator (`npm run bench`).
//
// For each system it forks a server child and a client child (never the same
// process), runs every (size, in-flight) case over one connection, and prints
// markdown tables. Environment knobs:
//   BENCH_SYSTEMS=floor,grpc,heartline   BENCH_SIZES=64B,16KiB
//   BENCH_INFLIGHT=1,32,512              BENCH_SECONDS=3 (measured window)
//   BENCH_WARMUP=1 (seconds)             BENCH_JSON=path/to/results.json
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseResult, DriveConfig, DriveMessage } from './drive.js';
import { progressLine, ratioTable, resultsTable } from './report.js';
import type { ServeMessage } from './serve.js';
import { SYSTEM_NAMES, isSystemName, type SystemName } from './system.js';
import { SIZES, type SizeName } from './workload.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

function listEnv(name: string, fallback: readonly string[]): string[] {
  const raw = process.env[name]?.trim();
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [...fallback];
}

function secondsEnv(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
}

const systemsExplicit = Boolean(process.env.BENCH_SYSTEMS?.trim());
const systems = listEnv('BENCH_SYSTEMS', SYSTEM_NAMES);
const sizes = listEnv('BENCH_SIZES', Object.keys(SIZES));
const inflights = listEnv('BENCH_INFLIGHT', ['1', '32', '512']).map(Number);
const measureMs = secondsEnv('BENCH_SECONDS', 3) * 1000;
const warmupMs = secondsEnv('BENCH_WARMUP', 1) * 1000;

for (const s of systems) if (!isSystemName(s)) throw new Error(`unknown system "${s}" (known: ${SYSTEM_NAMES.join(', ')})`);
for (const s of sizes) if (!(s in SIZES)) throw new Error(`unknown size "${s}" (known: ${Object.keys(SIZES).join(', ')})`);
for (const n of inflights) if (!Number.isInteger(n) || n < 1) throw new Error(`bad BENCH_INFLIGHT entry "${n}"`);

const live = new Set<ChildProcess>();

function tsxImport(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

function spawnChild(file: string, args: string[]): ChildProcess {
  const child = fork(path.join(HERE, file), args, {
    cwd: ROOT,
    execArgv: ['--import', tsxImport(), '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
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
  const child = spawnChild('serve.ts', [system]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('server did not report a port within 30 s')), 30_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.on('message', (m: ServeMessage) => {
      if (m.type === 'listening') {
        clearTimeout(timer);
        resolve({ child, port: m.port });
      } else fail(new Error(m.message));
    });
    child.once('exit', (code, signal) => fail(new Error(`server exited early (${signal ?? code})`)));
  });
}

function runClient(cfg: DriveConfig, onResult: (r: CaseResult) => void, onCaseError: (msg: string) => void): Promise<void> {
  const child = spawnChild('drive.ts', [JSON.stringify(cfg)]);
  return new Promise((resolve, reject) => {
    let done = false;
    child.on('message', (m: DriveMessage) => {
      if (m.type === 'result') onResult(m.result);
      else if (m.type === 'case-error') onCaseError(`${m.system} ${m.size} x${m.inflight}: ${m.message}`);
      else done = true;
    });
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
      `~${Math.round(perCase * cases.length * systems.length)}s of load\n`,
  );

  const results: CaseResult[] = [];
  const problems: string[] = [];
  let failed = false;

  for (const system of systems as SystemName[]) {
    if (system === 'heartline' && !systemsExplicit && !existsSync(path.join(ROOT, 'src', 'index.ts'))) {
      problems.push('heartline skipped: src/index.ts does not exist yet');
      console.log('heartline  skipped (src/index.ts not found)');
      continue;
    }
    let server: { child: ChildProcess; port: number } | undefined;
    try {
      server = await startServer(system);
      await runClient(
        { system, port: server.port, cases, warmupMs, measureMs },
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
      if (server) await stopChild(server.child);
    }
  }

  console.log(`\n## Results\n\n${resultsTable(results)}\n`);
  const ratios = ratioTable(results, 'heartline');
  console.log(`## heartline / floor\n\n${ratios ?? '(needs both floor and heartline results)'}\n`);
  const errored = results.filter((r) => r.errors > 0);
  for (const r of errored) problems.push(`${r.system} ${r.size} x${r.inflight}: ${r.errors} errors, first: ${r.firstError}`);
  if (problems.length) console.log(`## Problems\n\n${problems.map((p) => `- ${p}`).join('\n')}\n`);

  const jsonPath = process.env.BENCH_JSON;
  if (jsonPath) {
    const file = path.resolve(jsonPath);
    mkdirSync(path.dirname(file), { recursive: true });
    const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, warmupMs, measureMs };
    writeFileSync(file, `${JSON.stringify({ meta, results, problems }, null, 2)}\n`);
    console.log(`results written to ${file}`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
