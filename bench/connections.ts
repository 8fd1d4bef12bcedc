// Many connections on one provider (issue #13): `npm run bench:connections`.
//
// Idle case: a provider child (real Server, default options, one echo service)
// and CONN_PROCS consumer children holding CONN_COUNT real `Client`s between
// them, each with one connection opened by one call, then idle with default
// heartbeats (a consumer pings every 15 s). Reported: the provider's CPU over
// CONN_WINDOW_S seconds (process.cpuUsage delta / wall time, % of one core),
// its RSS and heap before and after the connections (after gc()), per connection.
// Burst case: a fresh provider, BURST_COUNT consumers across the children
// released at once (IPC "go"), each making its first call (connect, handshake,
// call): failed, time until all answered, per-call latency, provider peak RSS
// (the kernel's high-water mark: the provider is fresh) and CPU.
//
// Env: CONN_COUNT (10000), CONN_WINDOW_S (35), CONN_SETTLE_S (0: seconds between
// the connections and the CPU window, besides 3 s for the forced GCs), BURST_COUNT (5000), CONN_PROCS (4),
// CONN_PARTS (idle,burst; add floor for plain sockets pinged alike), CONN_PROVIDER_FLAGS (node flags of the provider, e.g. --trace-gc), ROOT (checkout whose src/ the provider runs; default
// this one), CLIENT_ROOT (the consumers'; default ROOT), BENCH_JSON_CONNECTIONS
// (write the figures as JSON there), CONN_PROFILE (directory: the provider writes
// a CPU profile and an allocation profile of the idle window, and a heap snapshot after it).
// Markdown on stdout; exit code 0 on success.
import { fork, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { echoService } from './cpu-echo.js';

const here = fileURLToPath(import.meta.url);
const checkout = path.resolve(path.dirname(here), '..');
const root = path.resolve(process.env.ROOT ?? checkout);
const clientRoot = path.resolve(process.env.CLIENT_ROOT ?? root);
const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
};

type Msg = { type: string; [k: string]: unknown };
const reply = (msg: Msg): Promise<void> => new Promise((resolve) => process.send!(msg, () => resolve()));
const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) for (let i = 0; i < 3; i++) g();
};
const mem = (): { rss: number; heapUsed: number; external: number } => {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
};

/** CPU time of this process's main thread and of its other threads, in ms (Linux /proc; empty elsewhere). */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    const tick = 10; // USER_HZ = 100 on Linux
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Every thread is called "node": the main thread is the one whose id is the pid; the others are V8's and libuv's.
      const name = tid === String(process.pid) ? 'main thread' : 'other threads (GC, compiler, libuv)';
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) * tick;
    }
  } catch {
    // not Linux
  }
  return out;
}

interface BenchServer {
  port: number;
  count(): number;
  bytesIn(): number;
}

async function heartlineServer(): Promise<BenchServer> {
  const api = await import(path.join(root, 'src/index.ts'));
  const { provider: impl } = echoService(api);
  const server = new api.Server({ host: '127.0.0.1', port: 0, logger: api.silentLogger });
  server.register(impl);
  const { port } = await server.listen();
  return {
    port,
    count: () => server.connectionCount,
    bytesIn: () => (server.connections() as Array<{ bytesIn: number }>).reduce((sum, c) => sum + c.bytesIn, 0),
  };
}

/** The floor: plain TCP sockets, each 16-byte ping answered with a 16-byte write (what any framework must do per ping). */
async function floorServer(): Promise<BenchServer> {
  const sockets = new Set<Socket>();
  let bytes = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      socket.write(Buffer.alloc(chunk.length));
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, count: () => sockets.size, bytesIn: () => bytes };
}

/** Floor consumers: `count` plain sockets, each sending a 16-byte ping every 15 s (first at a random offset). */
async function floorConsumers(port: number, count: number): Promise<void> {
  const ping = Buffer.alloc(16);
  const sockets: Socket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < count) {
        next++;
        const socket = connect(port, '127.0.0.1');
        socket.setNoDelay(true);
        socket.on('error', () => undefined);
        socket.on('data', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        sockets.push(socket);
        setTimeout(() => setInterval(() => socket.write(ping), 15_000), Math.random() * 15_000);
      }
    }),
  );
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') process.exit(0);
  });
  await reply({ type: 'ready', failed: 0, errors: [] });
}

/** The provider child: answers 'mem', 'cpu-start', 'cpu-end', 'snapshot', 'stop'. */
async function provider(floor: boolean): Promise<void> {
  const server = floor ? await floorServer() : await heartlineServer();
  const port = server.port;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let threads0 = threadCpu();
  const bytesIn = (): number => server.bytesIn();
  let bytes0 = 0;
  const profileDir = process.env.CONN_PROFILE?.trim() || undefined;
  const { Session } = await import('node:inspector');
  const session = profileDir ? new Session() : undefined;
  const post = (method: string): Promise<unknown> => new Promise((resolve, reject) => session!.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  if (session) {
    session.connect();
    await post('Profiler.enable');
  }
  process.on('message', async (m: Msg) => {
    if (m.type === 'mem') await reply({ type: 'mem', ...mem(), connections: server.count(), maxRssKiB: process.resourceUsage().maxRSS });
    else if (m.type === 'cpu-start') {
      if (session && m.profile) {
        await post('Profiler.start');
        await post('HeapProfiler.startSampling');
      }
      bytes0 = m.pings === true ? bytesIn() : 0;
      cpu0 = process.cpuUsage();
      threads0 = threadCpu();
      t0 = performance.now();
      await reply({ type: 'cpu-start' });
    } else if (m.type === 'cpu-end') {
      const d = process.cpuUsage(cpu0);
      const wallMs = performance.now() - t0;
      // Read after the window: an idle connection reads nothing but 16-byte pings meanwhile.
      const pings = m.pings === true ? (bytesIn() - bytes0) / 16 : 0;
      const threads = Object.entries(threadCpu()).map(([name, ms]) => [name, ms - (threads0[name] ?? 0)] as const).filter(([, ms]) => ms > 0);
      if (session && m.profile) {
        const { profile } = (await post('Profiler.stop')) as { profile: object };
        writeFileSync(path.join(profileDir!, `provider-${process.pid}.cpuprofile`), JSON.stringify(profile));
        const sampled = (await post('HeapProfiler.stopSampling')) as { profile: object };
        writeFileSync(path.join(profileDir!, `provider-${process.pid}.heapprofile`), JSON.stringify(sampled.profile));
      }
      await reply({ type: 'cpu-end', pings, threads: Object.fromEntries(threads), userMs: d.user / 1000, systemMs: d.system / 1000, wallMs, connections: server.count(), maxRssKiB: process.resourceUsage().maxRSS });
    } else if (m.type === 'snapshot') {
      const { writeHeapSnapshot } = await import('node:v8');
      await reply({ type: 'snapshot', file: writeHeapSnapshot(path.join(String(m.dir), `provider-${process.pid}.heapsnapshot`)) });
    } else if (m.type === 'stop') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  await reply({ type: 'listening', port });
}

/** A consumer child: `count` Clients. Idle: connect them all (one call each), then hold. Burst: call on 'go'. */
async function consumers(port: number, count: number, burst: boolean): Promise<void> {
  const api = await import(path.join(clientRoot, 'src/index.ts'));
  const { Echo } = echoService(api);
  const stubs = Array.from({ length: count }, () => new api.Client({ providers: [`127.0.0.1:${port}`], logger: api.silentLogger }).refer(Echo));
  const errors: string[] = [];
  let failed = 0;
  const call = async (stub: { echo(v: unknown): Promise<unknown> }): Promise<number> => {
    const t = performance.now();
    try {
      await stub.echo('hi');
    } catch (err) {
      failed++;
      if (errors.length < 5) errors.push(String((err as Error).message ?? err));
    }
    return performance.now() - t;
  };
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m: Msg) => {
    if (m.type === 'stop') process.exit(0);
    if (m.type !== 'go') return;
    const latencies = await Promise.all(stubs.map(call));
    await reply({ type: 'done', latencies, failed, errors });
  });
  if (!burst) {
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => { while (next < count) await call(stubs[next++]!); }));
  }
  await reply({ type: 'ready', failed, errors });
}

// ---- orchestrator ----

const live = new Set<ChildProcess>();
/** The idle window's CPU by provider thread (% of one core), for the report. */
let threadsLine = '';
function spawnChild(args: string[], flags: string[] = []): ChildProcess {
  const execArgv = ['--import', 'tsx', '--expose-gc', ...flags];
  const child = fork(here, args, { execArgv, cwd: checkout, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
function next(child: ChildProcess, type: string): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Msg): void => {
      if (m.type !== type) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null): void => reject(new Error(`child ${child.pid} exited (${code}) while waiting for ${type}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}
const ask = (child: ChildProcess, msg: Msg, type = msg.type): Promise<Msg> => {
  const answer = next(child, type);
  child.send(msg);
  return answer;
};
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.send({ type: 'stop' });
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(kill);
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const split = (n: number, parts: number): number[] => Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0)).filter((c) => c > 0);
const MiB = 1024 * 1024;
const fmt = (x: number, d = 1): string => x.toFixed(d);

async function startProvider(floor = false): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnChild(floor ? ['provider', 'floor'] : ['provider'], process.env.CONN_PROVIDER_FLAGS?.split(' ').filter(Boolean));
  const m = await next(child, 'listening');
  return { child, port: m.port as number };
}

async function idleCase(count: number, procs: number, windowS: number, settleS: number, profile?: string, floor = false): Promise<Record<string, number>> {
  const { child: prov, port } = await startProvider(floor);
  await sleep(500);
  const before = await ask(prov, { type: 'mem' });
  const t = performance.now();
  const kids = split(count, procs).map((n) => spawnChild(['consumers', String(port), String(n), floor ? 'floor' : 'idle']));
  const ready = await Promise.all(kids.map((k) => next(k, 'ready')));
  const connectS = (performance.now() - t) / 1000;
  const failed = ready.reduce((s, m) => s + (m.failed as number), 0);
  for (const m of ready) for (const e of m.errors as string[]) console.error(`idle connect error: ${e}`);
  await sleep(2000);
  const after = await ask(prov, { type: 'mem' });
  await sleep(3000 + settleS * 1000); // the forced GCs' background work (sweeping) ends before the window
  await ask(prov, { type: 'cpu-start', profile: profile !== undefined, pings: true });
  await sleep(windowS * 1000);
  const cpu = await ask(prov, { type: 'cpu-end', profile: profile !== undefined, pings: true });
  const end = await ask(prov, { type: 'mem' });
  const wall = cpu.wallMs as number;
  threadsLine = Object.entries(cpu.threads as Record<string, number>).sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${name} ${fmt((100 * ms) / wall, 2)}%`).join(', ');
  if (profile) await ask(prov, { type: 'snapshot', dir: profile });
  await Promise.all(kids.map(stop));
  await stop(prov);
  const conns = after.connections as number;
  return {
    connections: conns,
    connectFailed: failed,
    connectS,
    windowS: (cpu.wallMs as number) / 1000,
    cpuPct: (100 * ((cpu.userMs as number) + (cpu.systemMs as number))) / (cpu.wallMs as number),
    userPct: (100 * (cpu.userMs as number)) / (cpu.wallMs as number),
    systemPct: (100 * (cpu.systemMs as number)) / (cpu.wallMs as number),
    connectionsAtEnd: cpu.connections as number,
    pingsPerS: (cpu.pings as number) / ((cpu.wallMs as number) / 1000),
    cpuUsPerPing: (1000 * ((cpu.userMs as number) + (cpu.systemMs as number))) / Math.max(1, cpu.pings as number),
    rssBeforeMiB: (before.rss as number) / MiB,
    rssAfterMiB: (after.rss as number) / MiB,
    rssEndMiB: (end.rss as number) / MiB,
    heapBeforeMiB: (before.heapUsed as number) / MiB,
    heapAfterMiB: (after.heapUsed as number) / MiB,
    rssPerConnKiB: ((after.rss as number) - (before.rss as number)) / 1024 / conns,
    rssEndPerConnKiB: ((end.rss as number) - (before.rss as number)) / 1024 / conns,
    heapEndPerConnKiB: ((end.heapUsed as number) - (before.heapUsed as number)) / 1024 / conns,
    heapPerConnKiB: ((after.heapUsed as number) - (before.heapUsed as number)) / 1024 / conns,
    externalPerConnKiB: ((after.external as number) - (before.external as number)) / 1024 / conns,
  };
}

const pct = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

async function burstCase(count: number, procs: number): Promise<Record<string, number>> {
  const { child: prov, port } = await startProvider();
  const kids = split(count, procs).map((n) => spawnChild(['consumers', String(port), String(n), 'burst']));
  await Promise.all(kids.map((k) => next(k, 'ready')));
  await sleep(500);
  const before = await ask(prov, { type: 'mem' });
  await ask(prov, { type: 'cpu-start' });
  const t = performance.now();
  const done = await Promise.all(kids.map((k) => ask(k, { type: 'go' }, 'done')));
  const wallS = (performance.now() - t) / 1000;
  const cpu = await ask(prov, { type: 'cpu-end' });
  await Promise.all(kids.map(stop));
  await stop(prov);
  const latencies = done.flatMap((m) => m.latencies as number[]).sort((a, b) => a - b);
  for (const m of done) for (const e of m.errors as string[]) console.error(`burst error: ${e}`);
  return {
    calls: latencies.length,
    failed: done.reduce((s, m) => s + (m.failed as number), 0),
    allAnsweredS: wallS,
    p50Ms: pct(latencies, 0.5),
    p99Ms: pct(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
    providerCpuS: ((cpu.userMs as number) + (cpu.systemMs as number)) / 1000,
    providerCpuPct: (100 * ((cpu.userMs as number) + (cpu.systemMs as number))) / (cpu.wallMs as number),
    providerRssBeforeMiB: (before.rss as number) / MiB,
    providerPeakRssMiB: (cpu.maxRssKiB as number) / 1024,
  };
}

async function main(): Promise<void> {
  const count = envInt('CONN_COUNT', 10_000);
  const windowS = envInt('CONN_WINDOW_S', 35);
  const burstN = envInt('BURST_COUNT', 5000);
  const procs = Math.max(1, envInt('CONN_PROCS', 4));
  const parts = (process.env.CONN_PARTS ?? 'idle,burst').split(',').map((s) => s.trim());
  const profile = process.env.CONN_PROFILE?.trim() || undefined;
  const result: { root: string; idle?: Record<string, number>; floor?: Record<string, number>; burst?: Record<string, number> } = { root };
  const lines = [`## Connections (provider: ${root})`, ''];
  if (parts.includes('idle') && count > 0) {
    const r = (result.idle = await idleCase(count, procs, windowS, envInt('CONN_SETTLE_S', 0), profile));
    lines.push(
      `Idle: ${r.connections} connections (${procs} consumer processes, default heartbeats), opened in ${fmt(r.connectS)} s, ${r.connectFailed} failed; provider CPU over ${fmt(r.windowS)} s, while it answered ${fmt(r.pingsPerS, 0)} pings/s (${fmt(r.cpuUsPerPing)} µs of CPU per ping).`,
      '',
      '| provider CPU (% of one core) | user | system | RSS before → after → end (MiB) | RSS / connection (after; end) | heap before → after (MiB) | heap / connection (after; end) |',
      '|---|---|---|---|---|---|---|',
      `| ${fmt(r.cpuPct, 2)} | ${fmt(r.userPct, 2)} | ${fmt(r.systemPct, 2)} | ${fmt(r.rssBeforeMiB)} → ${fmt(r.rssAfterMiB)} → ${fmt(r.rssEndMiB)} | ${fmt(r.rssPerConnKiB, 2)}; ${fmt(r.rssEndPerConnKiB, 2)} KiB | ${fmt(r.heapBeforeMiB)} → ${fmt(r.heapAfterMiB)} | ${fmt(r.heapPerConnKiB, 2)}; ${fmt(r.heapEndPerConnKiB, 2)} KiB |`,
      '',
      '(after: 2 s after the last connection opened; end: after the CPU window; both after gc(), less the provider before any connection.)',
      '',
    );
  }
  if (threadsLine) lines.splice(lines.length - 1, 0, '', `Provider CPU by thread (/proc, 10 ms ticks): ${threadsLine}.`);
  if (parts.includes('floor') && count > 0) {
    threadsLine = '';
    const r = (result.floor = await idleCase(count, procs, windowS, envInt('CONN_SETTLE_S', 0), undefined, true));
    lines.push(
      `Floor: ${r.connections} plain TCP sockets, each a 16-byte ping every 15 s answered with a 16-byte write by a bare \`net\` server: ${fmt(r.cpuPct, 2)}% of one core (user ${fmt(r.userPct, 2)}, system ${fmt(r.systemPct, 2)}; ${threadsLine}), ${fmt(r.pingsPerS, 0)} pings/s, ${fmt(r.cpuUsPerPing)} µs per ping; RSS per connection ${fmt(r.rssPerConnKiB, 2)} KiB after, ${fmt(r.rssEndPerConnKiB, 2)} KiB at the end.`,
      '',
    );
  }
  if (parts.includes('burst') && burstN > 0) {
    const r = (result.burst = await burstCase(burstN, procs));
    lines.push(
      `Burst: ${r.calls} consumers' first calls (connect, handshake, call) released at once at a fresh provider.`,
      '',
      '| failed | all answered (s) | p50 (ms) | p99 (ms) | max (ms) | provider CPU (s) | provider peak RSS (MiB) |',
      '|---|---|---|---|---|---|---|',
      `| ${r.failed} | ${fmt(r.allAnsweredS, 2)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.maxMs)} | ${fmt(r.providerCpuS, 2)} | ${fmt(r.providerPeakRssMiB)} |`,
      '',
    );
  }
  console.log(lines.join('\n'));
  if (process.env.BENCH_JSON_CONNECTIONS) writeFileSync(process.env.BENCH_JSON_CONNECTIONS, JSON.stringify(result, null, 2));
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'provider') await provider(a === 'floor');
else if (mode === 'consumers' && c === 'floor') await floorConsumers(Number(a), Number(b));
else if (mode === 'consumers') await consumers(Number(a), Number(b), c === 'burst');
else {
  const cleanup = (): void => {
    for (const child of live) child.kill('SIGKILL');
  };
  process.on('exit', cleanup);
  try {
    await main();
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  }
  cleanup();
}
