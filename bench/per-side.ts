// Per side, in two processes: `SYS=floor|heartline N=32 npx tsx bench/per-side.ts`.
// Runs 64 B echo calls with N in flight for 3 s (after 2,000 warm-up calls), the
// provider in a child process, and prints calls/s, socket writes and 'data'
// reads per call on each side (net.Socket's write and emit are wrapped to count
// them), and each process's CPU per call (process.cpuUsage). It tells whether a
// gap in calls/s comes from batching (writes per call) or from CPU on one side.
// PROF=dir writes the provider's CPU profile there (run this file with
// `node --cpu-prof --import tsx` for the consumer's).
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
const counts: any = { writes: 0, wbytes: 0, reads: 0, cpu: 0 };
let cpu0 = process.cpuUsage();
const ow = net.Socket.prototype.write;
net.Socket.prototype.write = function (this: net.Socket, ...a: any[]) { counts.writes++; counts.wbytes += a[0]?.length ?? 0; return (ow as any).apply(this, a); } as any;
const oe = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (this: net.Socket, ev: string, ...a: any[]) { if (ev === 'data') counts.reads++; return (oe as any).call(this, ev, ...a); } as any;
const sys = process.env.SYS ?? 'heartline';
const mod = sys === 'floor' ? await import('./floor.js') : await import('./heartline.js');
const { makePayload } = await import('./workload.js');
if (process.argv[2] === 'serve') {
  const s = await mod.system.serve();
  process.send!(s.port);
  process.on('message', (m) => { if (m === 'reset') { cpu0 = process.cpuUsage(); return; } const u = process.cpuUsage(cpu0); counts.cpu = u.user + u.system; process.send!(counts); });
} else {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: ['--import', 'tsx', ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.PROF] : [])], env: process.env });
  const port: number = await new Promise((r) => child.once('message', r as any));
  const c = await mod.system.connect([port]);
  const p = makePayload('64B');
  const n = Number(process.env.N ?? 32);
  let calls = 0, stop = false;
  for (let i = 0; i < 2000; i++) await c.echo(p);
  counts.writes = counts.reads = counts.wbytes = 0; child.send('reset'); cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, async () => { while (!stop) { await c.echo(p); calls++; } }).concat([new Promise<void>((r) => setTimeout(() => { stop = true; r(); }, 3000))]));
  const el = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(cpu0); const mine = { ...counts, cpu: u.user + u.system };
  child.send('x');
  const theirs: any = await new Promise((r) => child.once('message', r));
  console.log(sys, 'calls/s', Math.round(calls / el), 'client writes/call', (mine.writes / calls).toFixed(3), 'reads/call', (mine.reads / calls).toFixed(3), 'bytes/call', (mine.wbytes / calls).toFixed(0), '| server writes/call', (theirs.writes / calls).toFixed(3), 'reads/call', (theirs.reads / calls).toFixed(3), '| cpu µs/call client', (mine.cpu / calls).toFixed(2), 'server', (theirs.cpu / calls).toFixed(2));
  child.kill('SIGINT'); await c.close(); await new Promise((r) => setTimeout(r, 2000)); process.exit(0);
}
