// CPU time per call, consumer and provider in one process: `npm run bench:cpu -- [inflight] [bytes] [calls]`.
//
// On a shared, noisy VM, calls/s moves by 20% between identical runs; the CPU a call costs
// moves much less. Use it to compare two builds: run each several times, alternating, and
// compare medians. ROOT=<checkout> measures another checkout's src/ (for example a base commit).
// INTERCEPTORS=<n> adds n no-op client interceptors (`client.use((call, next) => next())`).
// SERVER_INTERCEPTOR=1 adds one no-op server interceptor.
// CALL_SCOPE=0 makes the server with `callScope: false` (no AsyncLocalStorage scope per call).
// STACK_TRACES=<mode> makes the client with that `stackTraces` ('async' is the default, 'eager', 'off').
// BUILTINS=0 makes the server with `builtinServices: false` (no heartline.Reflection / heartline.Health).
// BENCH_TLS=1 runs the connection over TLS 1.3 (certificates from test/helpers/certs.ts).
// BENCH_AUTH=1 authenticates the connection: the client's `credentials` and the server's
// `sharedSecret` (needs a checkout with authentication). BENCH_AUTHORIZE=1 adds a server-wide
// `authorize` that returns true (its cost per call).
// BENCH_METRICS=1 registers heartline/metrics (collectMetrics) for the client and the server on a
// fresh prom-client registry (needs a checkout with src/metrics), and scrapes it once at the end.
// BENCH_METRICS=ab measures metrics off and on in one process, alternating (`calls` each, BENCH_ROUNDS (7) rounds
// after the warm-up, collectMetrics() then close() around each "on" run): on a noisy machine the
// difference of the two medians is steadier than that of separate processes.
// BENCH_GC=1 adds the garbage collection of the measured run: gcMsPer1000 (ms of GC pauses per 1000
// calls, PerformanceObserver 'gc' entries) and gcCount.
// BENCH_ALLOC=<file> writes an allocation sampling profile (.heapprofile) of the measured run, objects
// already collected included (the inspector's sampling heap profiler, 1 KiB interval): what each call allocates;
// the result line gains bytesPerCall (the profile's estimated bytes over the calls).
// BENCH_FLOOR=1 measures the floor (bench/floor.ts: length prefix + msgpackr [id, payload]) the same way.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCerts } from '../test/helpers/certs.js';
import { echoService } from './cpu-echo.js';

const root = process.env.ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const inflight = Number(process.argv[2] ?? 32);
const size = Number(process.argv[3] ?? 64);
const calls = Number(process.argv[4] ?? 100_000);
const gc = { ms: 0, count: 0, on: false };
if (process.env.BENCH_GC === '1') {
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver((list) => {
    if (!gc.on) return;
    for (const e of list.getEntries()) {
      gc.ms += e.duration;
      gc.count++;
    }
  }).observe({ entryTypes: ['gc'] });
}
const gcFields = (): Record<string, number> => (process.env.BENCH_GC === '1' ? { gcMsPer1000: +((gc.ms / calls) * 1000).toFixed(3), gcCount: gc.count } : {});
const alloc = process.env.BENCH_ALLOC;
let session: import('node:inspector').Session | undefined;
const post = (method: string, params?: object): Promise<any> => new Promise((resolve, reject) => session!.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
async function startAlloc(): Promise<void> {
  if (alloc === undefined) return;
  const inspector = await import('node:inspector');
  session = new inspector.Session();
  session.connect();
  await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
async function stopAlloc(): Promise<void> {
  if (alloc === undefined) return;
  const { profile } = await post('HeapProfiler.stopSampling');
  (await import('node:fs')).writeFileSync(alloc, JSON.stringify(profile));
  session!.disconnect();
  allocated = sampledBytes(profile.head);
}
/** Bytes allocated during the measured run, estimated by the sampling profiler (the sum of every node's selfSize). */
let allocated = NaN;
function sampledBytes(node: { selfSize: number; children: unknown[] }): number {
  let sum = node.selfSize;
  for (const child of node.children) sum += sampledBytes(child as typeof node);
  return sum;
}
const allocFields = (): Record<string, number> => (alloc === undefined ? {} : { bytesPerCall: Math.round(allocated / calls) });
if (process.env.BENCH_FLOOR === '1') {
  const { system } = await import('./floor.js');
  const srv = await system.serve();
  const cl = await system.connect([srv.port]);
  const p = { id: 7, name: 'bench', tags: ['a', 'bb', 'ccc'], data: Buffer.alloc(size, 7) } as never;
  const go = async (n: number): Promise<void> => {
    let left = n;
    await Promise.all(Array.from({ length: inflight }, async () => { while (left-- > 0) await cl.echo(p); }));
  };
  await go(20_000);
  await new Promise((r) => setTimeout(r, 50)); // let the warm-up's GC entries be delivered before counting
  gc.on = true;
  await startAlloc();
  const c0 = process.cpuUsage();
  const s0 = performance.now();
  await go(calls);
  const c = process.cpuUsage(c0);
  const elapsed = performance.now() - s0;
  await new Promise((r) => setTimeout(r, 50));
  await stopAlloc();
  console.log(JSON.stringify({ system: 'floor', inflight, size, calls, cpuUsPerCall: +((c.user + c.system) / calls).toFixed(3), callsPerSec: Math.round((calls / elapsed) * 1000), ...gcFields(), ...allocFields() }));
  await cl.close();
  await srv.close();
  process.exit(0);
}
const { Service, Provider, Server, Client, silentLogger, sharedSecret } = await import(path.join(root, 'src/index.ts'));

const { Echo, provider } = echoService({ Service, Provider });

const certs = process.env.BENCH_TLS === '1' ? makeCerts() : undefined;
const callScope = process.env.CALL_SCOPE !== '0';
const auth = process.env.BENCH_AUTH === '1';
const authorize = process.env.BENCH_AUTHORIZE === '1';
const TOKEN = 'bench-token-0123456789abcdef';
// Set only when asked, so that ROOT may name a checkout older than the option.
const builtins = process.env.BUILTINS !== '0';
const server = new Server({
  host: '127.0.0.1',
  port: 0,
  logger: silentLogger,
  tls: certs && { key: certs.server.key, cert: certs.server.cert },
  ...(callScope ? {} : { callScope: false }),
  ...(auth ? { authenticate: sharedSecret(TOKEN) } : {}),
  ...(authorize ? { authorize: () => true } : {}),
  ...(builtins ? {} : { builtinServices: false }),
});
server.register(provider);
// SERVER_INTERCEPTOR=1: one no-op server-wide interceptor (needs a checkout with server.use).
if (process.env.SERVER_INTERCEPTOR === '1') server.use((_call: unknown, next: () => Promise<unknown>) => next());
const { port } = await server.listen();
const stackTraces = process.env.STACK_TRACES; // the client's stackTraces ('async', 'eager', 'off'); unset: the default
const client = new Client({ providers: [`127.0.0.1:${port}`], logger: silentLogger, tls: certs && { ca: certs.ca }, ...(auth ? { credentials: TOKEN } : {}), ...(stackTraces === undefined ? {} : { stackTraces }) });
const interceptors = Number(process.env.INTERCEPTORS ?? 0);
for (let i = 0; i < interceptors; i++) client.use((_call: unknown, next: () => Promise<unknown>) => next());
const withMetrics = process.env.BENCH_METRICS === '1';
let scrape: (() => Promise<string>) | undefined;
if (withMetrics) {
  const { Registry } = await import('prom-client');
  const { collectMetrics } = await import(path.join(root, 'src/metrics/index.ts'));
  const registry = new Registry();
  collectMetrics({ registry, clients: [client], servers: [server] });
  scrape = () => registry.metrics();
}
const echo = client.refer(Echo);
const payload = { id: 7, name: 'bench', tags: ['a', 'bb', 'ccc'], data: Buffer.alloc(size, 7) };

async function run(n: number): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (left-- > 0) await echo.echo(payload);
    }),
  );
}

await run(20_000); // warm-up
if (process.env.BENCH_METRICS === 'ab') {
  const { Registry } = await import('prom-client');
  const { collectMetrics } = await import(path.join(root, 'src/metrics/index.ts'));
  const measure = async (): Promise<number> => {
    const c0 = process.cpuUsage();
    await run(calls);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / calls;
  };
  const off: number[] = [];
  const on: number[] = [];
  const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
  for (let round = 0; round < rounds; round++) {
    off.push(await measure());
    const registry = new Registry();
    const metrics = collectMetrics({ registry, clients: [client], servers: [server] });
    on.push(await measure());
    if (!(await registry.metrics()).includes('heartline_client_calls_total{')) throw new Error('nothing was counted');
    metrics.close();
  }
  const median = (xs: number[]): number => +[...xs].sort((a, b) => a - b)[xs.length >> 1]!.toFixed(3);
  console.log(JSON.stringify({ root, metrics: 'ab', inflight, size, calls, offCpuUsPerCall: median(off), onCpuUsPerCall: median(on), pairedDeltaMedian: median(on.map((x, i) => x - off[i]!)), offMin: +Math.min(...off).toFixed(3), onMin: +Math.min(...on).toFixed(3), off: off.map((x) => +x.toFixed(3)), on: on.map((x) => +x.toFixed(3)) }));
  await client.close();
  await server.close();
  process.exit(0);
}
if (process.env.BENCH_GC === '1') await new Promise((r) => setTimeout(r, 50)); // the warm-up's GC entries are delivered before counting
gc.on = true;
await startAlloc();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run(calls);
const cpu = process.cpuUsage(cpu0);
const ms = performance.now() - t0;
if (process.env.BENCH_GC === '1') await new Promise((r) => setTimeout(r, 50));
gc.on = false;
await stopAlloc();
if (scrape !== undefined && !(await scrape()).includes('heartline_client_calls_total{')) throw new Error('BENCH_METRICS=1 but nothing was counted');
console.log(JSON.stringify({ root, tls: certs !== undefined, interceptors, serverInterceptor: process.env.SERVER_INTERCEPTOR === '1', callScope, auth, authorize, builtins, metrics: withMetrics, inflight, size, calls, cpuUsPerCall: +((cpu.user + cpu.system) / calls).toFixed(3), callsPerSec: Math.round((calls / ms) * 1000), ...gcFields(), ...allocFields() }));
await client.close();
await server.close();
