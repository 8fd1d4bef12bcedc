// Median of several bench runs: `npx tsx bench/summarize.ts run1.json run2.json ...`
// (files written by `BENCH_JSON=... npm run bench`). Prints markdown for bench/RESULTS.md.
import { readFileSync } from 'node:fs';
import type { CaseResult } from './drive.js';

interface RunFile {
  meta: { date: string; node: string; cpus: number };
  results: CaseResult[];
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: tsx bench/summarize.ts run1.json [run2.json ...]');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunFile);

/** The median; for an even count, the mean of the middle two. */
function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const keyOf = (r: CaseResult): string => `${r.system}|${r.size}|${r.inflight}`;
const keys = [...new Set(runs.flatMap((run) => run.results.map(keyOf)))];
const med = new Map<string, { rate: number; p50: number; p99: number; rates: number[] }>();
for (const key of keys) {
  const rs = runs.map((run) => run.results.find((r) => keyOf(r) === key)).filter((r): r is CaseResult => r !== undefined);
  med.set(key, {
    rate: median(rs.map((r) => r.callsPerSec)),
    p50: median(rs.map((r) => r.p50us)),
    p99: median(rs.map((r) => r.p99us)),
    rates: rs.map((r) => r.callsPerSec),
  });
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const us = (n: number): string => (n < 1000 ? n.toFixed(1) : int(n));
const ratio = (n: number): string => `${n.toFixed(2)}x`;

console.log(`Runs: ${runs.map((r) => r.meta.date).join(', ')}; node ${runs[0]!.meta.node}, ${runs[0]!.meta.cpus} CPUs.\n`);
console.log('| system | size | in-flight | calls/s (median) | runs | p50 µs | p99 µs |');
console.log('|---|---|--:|--:|---|--:|--:|');
for (const key of keys) {
  const [system, size, inflight] = key.split('|');
  const m = med.get(key)!;
  console.log(`| ${system} | ${size} | ${inflight} | ${int(m.rate)} | ${m.rates.map(int).join(' / ')} | ${us(m.p50)} | ${us(m.p99)} |`);
}

function ratios(system: string, base: string): void {
  const rows = keys.filter((k) => k.startsWith(`${system}|`));
  if (rows.length === 0) return;
  console.log(`\n| size | in-flight | ${system}/${base} calls/s | ${system}/${base} p50 |`);
  console.log('|---|--:|--:|--:|');
  for (const key of rows) {
    const [, size, inflight] = key.split('|');
    const a = med.get(key)!;
    const b = med.get(`${base}|${size}|${inflight}`);
    if (b === undefined) continue;
    console.log(`| ${size} | ${inflight} | ${ratio(a.rate / b.rate)} | ${ratio(a.p50 / b.p50)} |`);
  }
}
ratios('heartline', 'floor');
ratios('heartline', 'grpc');
ratios('heartline3', 'heartline');
ratios('heartline-tls', 'heartline');
