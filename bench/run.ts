// Heartline benchmark orchestrator (`npm run bench`).
//
// For each system it forks its server child(ren) and a client child (never the same
// process), runs every part's cases over one connection each, and prints markdown
// tables. The client child announces each case's measured window; the orchestrator
// relays it to the server child(ren) (window.ts), which measure their GC time and
// peak RSS over it. Environment knobs (defaults in brackets):
//   BENCH_PARTS=echo,hol,connections  which parts run [all three]:
//       echo         every (size, in-flight) cell of every system: calls/s, p50, p99,
//                    p99.9, max, provider peak RSS, GC ms on both sides (~120 s)
//       hol          head-of-line, floor and heartline: 64 B calls, 8 in flight, alone
//                    and with one 4 MiB call always in flight on the same connection (~16 s)
//       connections  bench/connections.ts as a child, if that file exists (~2 min); its
//                    JSON (BENCH_JSON_CONNECTIONS, set by this script) lands in
//                    BENCH_JSON under `connections`
//   BENCH_SYSTEMS=floor,grpc,heartline,heartline3,heartline-tls  [all]; hol runs
//                    the ones of floor and heartline listed here
//   BENCH_SIZES=64B,16KiB [both]        BENCH_INFLIGHT=1,32,512 [1,32,512]
//   BENCH_SECONDS=3  measured window per case, seconds [3]
//   BENCH_WARMUP=1   warm-up per case, seconds [1]
//   BENCH_JSON=path  write every figure as JSON there [unset: not written]
//   BENCH_PLOT=path  the SVG plot of the echo cells (plot.ts) [bench/results.svg];
//                    BENCH_PLOT=0 skips it
//   BENCH_PIN=1      pin server and client to different CPUs with taskset
//                    [off; see pinningEnabled below]
//   BENCH_PROFILE=dir  a V8 CPU profile of every child into dir [off]
// Handed to the heartline children: BENCH_INTERCEPTOR=1, BENCH_CALL_SCOPE=0 (heartline.ts).
// Medians of several BENCH_JSON files, the goals table and the median plot:
// `node bench/median.mjs run1.json run2.json run3.json` (see its header).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseResult, DriveConfig, DriveMessage } from './drive.js';
import { HOL_SYSTEMS, type HolResult } from './hol.js';
import { plotSvg } from './plot.js';
import { holLine, holTable, progressLine, ratioTable, resultsTable, sideTable } from './report.js';
import type { ServeMessage } from './serve.js';
import { SERVER_COUNT, SYSTEM_NAMES, isSystemName, type SystemName } from './system.js';
import type { WindowAck, WindowRequest } from './window.js';
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
const PARTS = ['echo', 'hol', 'connections'] as const;
type Part = (typeof PARTS)[number];
const parts = listEnv('BENCH_PARTS', PARTS);
const plotEnv = process.env.BENCH_PLOT?.trim();
const plotPath = plotEnv === '0' ? undefined : path.resolve(plotEnv || path.join(HERE, 'results.svg'));
const CONNECTIONS_SCRIPT = path.join(HERE, 'connections.ts');

for (const s of systems) if (!isSystemName(s)) usage(`unknown system "${s}" (known: ${SYSTEM_NAMES.join(', ')})`);
for (const s of sizes) if (!(s in SIZES)) usage(`unknown size "${s}" (known: ${Object.keys(SIZES).join(', ')})`);
for (const n of inflights) if (!Number.isInteger(n) || n < 1) usage(`bad BENCH_INFLIGHT entry "${n}"`);
if (measureMs === 0) usage('BENCH_SECONDS must be > 0');
for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) usage(`unknown part "${p}" (known: ${PARTS.join(', ')})`);
const runs = (part: Part) => parts.includes(part);

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

function spawnChild(file: string, args: string[], cpu?: number, env?: NodeJS.ProcessEnv): ChildProcess {
  // BENCH_PROFILE=dir writes a V8 CPU profile of every child into dir (node --cpu-prof).
  const profile = process.env.BENCH_PROFILE?.trim() ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE.trim()}`] : [];
  const node = [process.execPath, ...profile, '--import', tsxImport(), '--expose-gc', path.join(HERE, file), ...args];
  const [cmd, ...rest] = pin && cpu !== undefined ? ['taskset', '-c', String(cpu), ...node] : node;
  // The connections script (env given) runs on its own: no IPC channel to keep it alive.
  const stdio = env ? (['ignore', 'inherit', 'inherit'] as const) : (['ignore', 'inherit', 'inherit', 'ipc'] as const);
  const child = spawn(cmd!, rest, { cwd: ROOT, stdio: [...stdio], env: env ?? process.env });
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

function startServer(system: SystemName): Promise<{ child: ChildProcess; port: number; rssBytes: number }> {
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
      if (settled || m.type !== 'listening') return;
      settled = true;
      clearTimeout(timer);
      resolve({ child, port: m.port, rssBytes: m.rssBytes });
    });
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`server exited early (${signal ?? code})`)));
  });
}

let windowSeq = 0;

/** Relays one window step to a server child; resolves with its acknowledgement. */
function relayWindow(server: ChildProcess, phase: WindowRequest['phase']): Promise<WindowAck> {
  const seq = ++windowSeq;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`server did not acknowledge window ${phase} within 10 s`)), 10_000);
    const onMessage = (m: ServeMessage) => {
      if (m.type === 'window-ack' && m.seq === seq) finish(undefined, m);
    };
    const onExit = () => finish(new Error('server exited during a case'));
    const finish = (err?: Error, ack?: WindowAck) => {
      clearTimeout(timer);
      server.off('message', onMessage);
      server.off('exit', onExit);
      if (err) reject(err);
      else resolve(ack!);
    };
    server.on('message', onMessage);
    server.once('exit', onExit);
    server.send({ type: 'window', seq, phase } satisfies WindowRequest, (err) => {
      if (err) finish(err);
    });
  });
}

interface ClientSink {
  result?(r: CaseResult): void;
  hol?(r: HolResult): void;
  caseError(msg: string): void;
}

function runClient(cfg: DriveConfig, servers: ChildProcess[], sink: ClientSink): Promise<void> {
  const child = spawnChild('drive.ts', [JSON.stringify(cfg)], CPU.client);
  const answer = (ack: WindowAck) => {
    if (child.connected) child.send(ack);
  };
  return new Promise((resolve, reject) => {
    let done = false;
    child.on('message', (m: DriveMessage) => {
      if (m.type === 'result') sink.result?.(m.result);
      else if (m.type === 'hol-result') sink.hol?.(m.result);
      else if (m.type === 'case-error') sink.caseError(`${m.system} ${m.size} x${m.inflight}: ${m.message}`);
      else if (m.type === 'window') {
        // A server that fails to answer leaves the client's step to time out (a case error).
        Promise.all(servers.map((s) => relayWindow(s, m.phase))).then(
          (acks) => answer({ type: 'window-ack', seq: m.seq, stats: acks.flatMap((a) => a.stats ?? []) }),
          (err: unknown) => sink.caseError(`${cfg.system}: ${err instanceof Error ? err.message : String(err)}`),
        );
      } else done = true;
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

/** Runs bench/connections.ts (owned by the connections work) as a child; its JSON, or undefined. */
async function runConnections(problems: string[]): Promise<unknown> {
  if (!existsSync(CONNECTIONS_SCRIPT)) {
    console.log('connections: bench/connections.ts does not exist in this tree; part skipped\n');
    return undefined;
  }
  const out = path.join(os.tmpdir(), `heartline-bench-connections-${process.pid}.json`);
  rmSync(out, { force: true });
  console.log('## connections (bench/connections.ts)\n');
  const child = spawnChild('connections.ts', [], undefined, { ...process.env, BENCH_JSON_CONNECTIONS: out });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000); // its own budget is ~2 min
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once('exit', (c, s) => resolve([c, s]));
    child.once('error', (err) => {
      problems.push(`connections: ${err.message}`);
      resolve([null, null]);
    });
  });
  clearTimeout(timer);
  if (code !== 0) problems.push(`connections: bench/connections.ts exited with ${signal ?? code}`);
  if (!existsSync(out)) {
    problems.push('connections: bench/connections.ts wrote no JSON to BENCH_JSON_CONNECTIONS');
    return undefined;
  }
  try {
    return JSON.parse(readFileSync(out, 'utf8')) as unknown;
  } catch (err) {
    problems.push(`connections: unreadable JSON (${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  } finally {
    rmSync(out, { force: true });
  }
}

/** Starts a system's servers, runs one client child against them, stops them. */
async function withServers(system: SystemName, cfg: Omit<DriveConfig, 'system' | 'ports'>, sink: ClientSink): Promise<void> {
  const servers: { child: ChildProcess; port: number; rssBytes: number }[] = [];
  try {
    const count = SERVER_COUNT[system] ?? 1;
    for (let i = 0; i < count; i++) servers.push(await startServer(system));
    const serverIdleRssBytes = Math.max(...servers.map((s) => s.rssBytes));
    await runClient({ ...cfg, system, ports: servers.map((s) => s.port) }, servers.map((s) => s.child), {
      result: sink.result && ((r) => sink.result!({ ...r, serverIdleRssBytes })),
      hol: sink.hol && ((r) => sink.hol!({ ...r, serverIdleRssBytes })),
      caseError: sink.caseError,
    });
  } finally {
    await Promise.all(servers.map((s) => stopChild(s.child)));
  }
}

async function main(): Promise<void> {
  const cases = sizes.flatMap((size) => inflights.map((inflight) => ({ size: size as SizeName, inflight })));
  const holSystems = (systems as SystemName[]).filter((s) => (HOL_SYSTEMS as readonly string[]).includes(s));
  const perCase = (warmupMs + measureMs) / 1000;
  const echoSeconds = runs('echo') ? perCase * cases.length * systems.length : 0;
  const holSeconds = runs('hol') ? perCase * 2 * holSystems.length : 0;
  console.log(
    `# Heartline bench: node ${process.version}, ${os.cpus().length} CPUs, parts ${parts.join(',')}, ` +
      `warm-up ${warmupMs / 1000}s + measure ${measureMs / 1000}s per case, ` +
      `~${Math.round(echoSeconds + holSeconds)}s of load${runs('connections') ? ' + the connections part' : ''}, ` +
      (pin ? `server pinned to CPU ${CPU.server}, client to CPU ${CPU.client}\n` : 'no CPU pinning (x1 latency can be bimodal, see BENCH_PIN)\n'),
  );

  const results: CaseResult[] = [];
  const hol: HolResult[] = [];
  const problems: string[] = [];
  let failed = false;
  const caseError = (system: string) => (msg: string) => {
    failed = true;
    problems.push(msg);
    console.log(`${system.padEnd(10)} FAILED ${msg}`);
  };
  const systemError = (system: string, err: unknown) => {
    caseError(system)(`${system}: ${err instanceof Error ? err.message : String(err)}`);
  };

  if (runs('echo')) {
    for (const system of systems as SystemName[]) {
      await withServers(system, { part: 'echo', cases, warmupMs, measureMs }, {
        result: (r) => {
          results.push(r);
          console.log(progressLine(r));
          if (r.errors) failed = true;
        },
        caseError: caseError(system),
      }).catch((err: unknown) => systemError(system, err));
    }
  }

  if (runs('hol')) {
    for (const system of holSystems) {
      await withServers(system, { part: 'hol', cases: [], warmupMs, measureMs }, {
        hol: (r) => {
          hol.push(r);
          console.log(holLine(r));
          if (r.errors || r.bulkErrors) failed = true;
        },
        caseError: caseError(system),
      }).catch((err: unknown) => systemError(system, err));
    }
  }

  let connections: unknown;
  if (runs('connections')) connections = await runConnections(problems);

  if (results.length) {
    console.log(`\n## Results\n\n${resultsTable(results)}\n`);
    console.log(`## GC and memory over each measured window\n\n${sideTable(results)}\n`);
    const ratios = ratioTable(results, 'heartline');
    console.log(`## heartline / floor\n\n${ratios ?? '(needs both floor and heartline results)'}\n`);
    const grpc = ratioTable(results, 'heartline', 'grpc');
    if (grpc) console.log(`## heartline / grpc\n\n${grpc}\n`);
    const three = ratioTable(results, 'heartline3', 'heartline');
    if (three) console.log(`## heartline3 (3 providers behind one reference) / heartline (one provider)\n\n${three}\n`);
    const tls = ratioTable(results, 'heartline-tls', 'heartline');
    if (tls) console.log(`## heartline-tls (TLS 1.3) / heartline (plain TCP)\n\n${tls}\n`);
  }
  if (hol.length) console.log(`## Head-of-line: 64 B calls, 8 in flight, alone and with one 4 MiB call always in flight\n\n${holTable(hol)}\n`);
  const errored = [...results, ...hol].filter((r) => r.errors > 0);
  for (const r of errored) problems.push(`${r.system} ${'size' in r ? r.size : r.phase} x${r.inflight}: ${r.errors} errors, first: ${r.firstError}`);
  for (const r of hol) if (r.bulkErrors) problems.push(`${r.system} hol: ${r.bulkErrors} failed bulk calls`);
  if (problems.length) console.log(`## Problems\n\n${problems.map((p) => `- ${p}`).join('\n')}\n`);

  if (plotPath && results.length) {
    mkdirSync(path.dirname(plotPath), { recursive: true });
    writeFileSync(plotPath, plotSvg(results, `npm run bench, ${new Date().toISOString().slice(0, 16)}Z, one run`));
    console.log(`plot written to ${plotPath}`);
  }
  const jsonPath = process.env.BENCH_JSON;
  if (jsonPath) {
    const file = path.resolve(jsonPath);
    mkdirSync(path.dirname(file), { recursive: true });
    const meta = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, warmupMs, measureMs, pinned: pin, parts };
    writeFileSync(file, `${JSON.stringify({ meta, results, hol, connections, problems }, null, 2)}\n`);
    console.log(`results written to ${file}`);
  }
  if (failed || problems.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
