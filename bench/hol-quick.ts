// Head-of-line quick check (issue #13): `npx tsx bench/hol-quick.ts [fragmentSize] [seconds]`.
// 64 B calls with 8 in flight on one connection while one 4 MiB Buffer call is
// always in flight on the same connection; prints p50/p99/p99.9 of the small
// calls and the large calls' rate. The provider runs in a child process, with
// the same fragmentSize (0: no fragments, whole frames). BIG=0 runs the small
// calls alone; SMALL=0 the 4 MiB calls alone. ELD=1 adds each process's event-loop delay,
// GC pauses and CPU time per 4 MiB call. ROOT=<checkout> measures another checkout's src/.
// (The official case is in `npm run bench`; this is a developer's before/after.)
import { fork } from 'node:child_process';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** GC pauses of this process while measuring: count and ms of major (mark-compact) and minor ones. */
const gc = { on: false, major: 0, majorMs: 0, minor: 0, minorMs: 0 };
new PerformanceObserver((list) => {
  if (!gc.on) return;
  for (const e of list.getEntries()) {
    const major = (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
    if (major) {
      gc.major++;
      gc.majorMs += e.duration;
    } else {
      gc.minor++;
      gc.minorMs += e.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });
let cpuAtStart = process.cpuUsage();
const cpuMs = (): number => {
  const u = process.cpuUsage(cpuAtStart);
  return (u.user + u.system) / 1000;
};
const gcLine = (who: string): string => `${who} CPU ${cpuMs().toFixed(0)} ms, GC: ${gc.major} major (${gc.majorMs.toFixed(0)} ms), ${gc.minor} minor (${gc.minorMs.toFixed(0)} ms)`;
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoService } from './cpu-echo.js';

const root = process.env.ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { Service, Provider, Server, Client, silentLogger } = await import(path.join(root, 'src/index.ts'));
const { Echo, provider } = echoService({ Service, Provider });

if (process.argv[2] === 'serve') {
  const fragmentSize = Number(process.argv[3]);
  const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, fragmentSize });
  server.register(provider);
  const { port } = await server.listen();
  process.send!({ port });
  process.on('message', (m: string) => {
    gc.on = m === 'measure';
    if (gc.on) cpuAtStart = process.cpuUsage();
    else cpuFrozen = cpuMs();
  });
  let cpuFrozen = 0;
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  process.on('disconnect', () => {
    if (process.env.ELD === '1') console.log(gcLine('provider').replace(/CPU \d+ ms/, `CPU ${cpuFrozen.toFixed(0)} ms`));
    if (process.env.ELD === '1') console.log(`provider event-loop delay p50 ${(eld.percentile(50) / 1e6).toFixed(1)} ms p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms max ${(eld.max / 1e6).toFixed(1)} ms`);
    process.exit(0);
  });
} else {
  const fragmentSize = Number(process.argv[2] ?? 65536);
  const seconds = Number(process.argv[3] ?? 5);
  const withBig = process.env.BIG !== '0';
  const child = fork(fileURLToPath(import.meta.url), ['serve', String(fragmentSize)], { execArgv: process.execArgv });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const client = new Client({ providers: [`127.0.0.1:${port}`], logger: silentLogger, fragmentSize, timeout: 60_000 });
  const echo = client.refer(Echo);
  const small = Buffer.alloc(64, 1);
  const big = Buffer.alloc(4 * 1024 * 1024, 2);
  await echo.echo(small);
  await echo.echo(big);

  let running = true;
  let measuring = false;
  const samples: number[] = [];
  let bigCalls = 0;
  const smallLoop = async (): Promise<void> => {
    while (running) {
      const t = process.hrtime.bigint();
      await echo.echo(small);
      if (measuring) samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  const bigLoop = async (): Promise<void> => {
    while (running) {
      await echo.echo(big);
      if (measuring) bigCalls++;
    }
  };
  const loops = process.env.SMALL === '0' ? [] : Array.from({ length: 8 }, smallLoop);
  if (withBig) loops.push(bigLoop());
  await new Promise((r) => setTimeout(r, 1000));
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  measuring = true;
  gc.on = true;
  cpuAtStart = process.cpuUsage();
  child.send('measure');
  const started = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  gc.on = false;
  const consumerCpu = cpuMs();
  child.send('stop');
  const elapsed = (Date.now() - started) / 1000;
  running = false;
  await Promise.all(loops);
  samples.sort((a, b) => a - b);
  const q = (p: number): string => (samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] ?? NaN).toFixed(2);
  console.log(
    `fragmentSize ${fragmentSize}${withBig ? '' : ' (no 4 MiB call)'}: small calls ${samples.length} (${(samples.length / elapsed).toFixed(0)}/s) p50 ${q(0.5)} ms p99 ${q(0.99)} ms p99.9 ${q(0.999)} ms max ${q(1)} ms; 4 MiB calls ${(bigCalls / elapsed).toFixed(1)}/s`,
  );
  if (process.env.ELD === '1') console.log(`${gcLine('consumer')}; consumer CPU per 4 MiB call ${(consumerCpu / Math.max(1, bigCalls)).toFixed(2)} ms`);
  if (process.env.ELD === '1') console.log(`consumer event-loop delay p50 ${(eld.percentile(50) / 1e6).toFixed(1)} ms p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms max ${(eld.max / 1e6).toFixed(1)} ms`);
  await client.close();
  child.disconnect();
}
