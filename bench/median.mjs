// Medians over several `BENCH_JSON` files of `npm run bench`, issue #13's goals table, and the median plot.
// Usage: node bench/median.mjs [--plot out.svg | --plot 0] run1.json run2.json run3.json
// Prints markdown: per-cell medians of every figure (echo, head-of-line, connections), the ratio tables
// (median of the per-run ratios, cell by cell), then the goals table (each goal, its measured median,
// met or missed). Writes the plot of the median echo cells (bench/plot.ts) to bench/results-median.svg
// unless --plot says otherwise (0: no plot). Figures a run lacks (older JSON) are left out of that median.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
let plotPath = path.join(HERE, 'results-median.svg');
const files = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--plot') plotPath = argv[++i] === '0' ? undefined : path.resolve(argv[i]);
  else files.push(argv[i]);
}
if (files.length === 0) {
  console.error('usage: node bench/median.mjs [--plot out.svg | --plot 0] run1.json [run2.json ...]');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));

const med = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const fin = (x) => typeof x === 'number' && Number.isFinite(x);
const rate = (x) => (fin(x) ? Math.round(x).toLocaleString('en') : 'n/a');
const us = (x) => (fin(x) ? (x < 1000 ? x.toFixed(1) : Math.round(x).toLocaleString('en')) : 'n/a');
const fixed = (d) => (x) => (fin(x) ? x.toFixed(d) : 'n/a');
const mib = (x) => (fin(x) ? (x / 1048576).toFixed(1) : 'n/a');
const ratio = (x) => (fin(x) ? `${x.toFixed(2)}x` : 'n/a');
const per1k = (ms, calls) => (fin(ms) && calls > 0 ? (ms / calls) * 1000 : NaN);
const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

// ---- echo cells
const key = (r) => `${r.system}|${r.size}|${r.inflight}`;
const maps = runs.map((run) => new Map((run.results ?? []).map((r) => [key(r), r])));
const cellKeys = [...new Set(runs.flatMap((run) => (run.results ?? []).map(key)))];
const across = (k) => maps.map((m) => m.get(k)).filter(Boolean);
const echoFields = [
  ['calls/s', (r) => r.callsPerSec, rate],
  ['p50 (µs)', (r) => r.p50us, us],
  ['p99 (µs)', (r) => r.p99us, us],
  ['p99.9 (µs)', (r) => r.p999us, us],
  ['max (µs)', (r) => r.maxUs, us],
  ['provider peak RSS (MiB)', (r) => r.serverPeakRssBytes, mib],
  ['provider idle RSS (MiB)', (r) => r.serverIdleRssBytes, mib],
  ['consumer GC ms / 1k calls', (r) => per1k(r.clientGcMs, r.calls), fixed(2)],
  ['provider GC ms / 1k calls', (r) => per1k(r.serverGcMs, r.calls), fixed(2)],
];
/** The median echo cells, in the shape bench/plot.ts reads. */
const medianCells = cellKeys.map((k) => {
  const [system, size, inflight] = k.split('|');
  const rs = across(k);
  return { system, size, inflight: Number(inflight), rs, callsPerSec: med(rs.map((r) => r.callsPerSec)), p99us: med(rs.map((r) => r.p99us)) };
});
console.log(`# Medians of ${runs.length} run(s): ${files.join(', ')}\n`);
if (medianCells.length) {
  console.log('## Echo cells (median of each figure)\n');
  console.log(
    table(
      ['system', 'size', 'in-flight', 'runs', ...echoFields.map(([h]) => h)],
      medianCells.map((c) => [c.system, c.size, String(c.inflight), String(c.rs.length), ...echoFields.map(([, get, fmt]) => fmt(med(c.rs.map(get))))]),
    ),
  );
}

/** Median over the runs of b's figure over a's, cell by cell; NaN unless some run has both. */
const ratioOf = (a, b, cell, get) =>
  med(maps.map((m) => {
    const ra = m.get(`${a}|${cell}`);
    const rb = m.get(`${b}|${cell}`);
    return ra && rb ? get(rb) / get(ra) : NaN;
  }));
const cells = [...new Set(cellKeys.map((k) => k.split('|').slice(1).join('|')))];
const ratioFields = [
  ['calls/s', (r) => r.callsPerSec],
  ['p50', (r) => r.p50us],
  ['p99', (r) => r.p99us],
  ['p99.9', (r) => r.p999us],
  ['peak RSS', (r) => r.serverPeakRssBytes],
];
const pair = (a, b) => {
  const rows = [];
  for (const c of cells) {
    const ra = across(`${a}|${c}`);
    const rb = across(`${b}|${c}`);
    if (!ra.length || !rb.length) continue;
    const [size, inf] = c.split('|');
    rows.push([size, inf, rate(med(ra.map((r) => r.callsPerSec))), rate(med(rb.map((r) => r.callsPerSec))), ...ratioFields.map(([, get]) => ratio(ratioOf(a, b, c, get)))]);
  }
  if (!rows.length) return;
  console.log(`\n## ${b} / ${a} (median of the per-run ratios)\n`);
  console.log(table(['size', 'in-flight', `${a} calls/s`, `${b} calls/s`, ...ratioFields.map(([h]) => `${b}/${a} ${h}`)], rows));
};
pair('floor', 'heartline');
pair('grpc', 'heartline');
pair('heartline', 'heartline-tls');
pair('heartline', 'heartline3');

// ---- head-of-line
const holKey = (r) => `${r.system}|${r.phase}`;
const holMaps = runs.map((run) => new Map((run.hol ?? []).map((r) => [holKey(r), r])));
const holKeys = [...new Set(runs.flatMap((run) => (run.hol ?? []).map(holKey)))];
const holAcross = (k) => holMaps.map((m) => m.get(k)).filter(Boolean);
if (holKeys.length) {
  console.log('\n## Head-of-line: 64 B calls, 8 in flight, alone / with one 4 MiB call always in flight (medians)\n');
  console.log(
    table(
      ['system', 'phase', 'runs', 'calls/s', 'p50 (µs)', 'p99 (µs)', 'p99.9 (µs)', 'max (µs)', '4 MiB calls/s'],
      holKeys.map((k) => {
        const rs = holAcross(k);
        const [system, phase] = k.split('|');
        const m = (get) => med(rs.map(get));
        return [system, phase, String(rs.length), rate(m((r) => r.callsPerSec)), us(m((r) => r.p50us)), us(m((r) => r.p99us)), us(m((r) => r.p999us)), us(m((r) => r.maxUs)), phase === 'bulk' ? fixed(1)(m((r) => r.bulkPerSec)) : ''];
      }),
    ),
  );
}

// ---- connections: the median of every numeric figure bench/connections.ts wrote
const leaves = (obj, prefix = '') =>
  Object.entries(obj ?? {}).flatMap(([k, v]) => (v && typeof v === 'object' ? leaves(v, `${prefix}${k}.`) : typeof v === 'number' ? [[`${prefix}${k}`, v]] : []));
const connRuns = runs.map((run) => new Map(leaves(run.connections)));
const connKeys = [...new Set(connRuns.flatMap((m) => [...m.keys()]))];
const conn = (k) => connRuns.map((m) => m.get(k));
if (connKeys.length) {
  console.log('\n## Connections (bench/connections.ts; median of each figure)\n');
  console.log(table(['figure', 'runs', 'median', 'per run'], connKeys.map((k) => [k, String(conn(k).filter(fin).length), fixed(2)(med(conn(k))), conn(k).map(fixed(2)).join(', ')])));
}

// ---- issue #13's goals
const goals = [];
const goal = (figure, value, shown, met) =>
  goals.push([figure, shown, fin(value) ? (met(value) ? 'met' : '**missed**') : 'not measured']);
for (const c of ['64B|32', '64B|512', '16KiB|32', '16KiB|512']) {
  const v = ratioOf('floor', 'heartline', c, (r) => r.callsPerSec);
  goal(`calls/s ${c.replace('|', ' x')}: heartline/floor >= 0.90x`, v, ratio(v), (x) => x >= 0.9);
}
for (const c of ['64B|1', '16KiB|1']) {
  const v = ratioOf('floor', 'heartline', c, (r) => r.p50us);
  goal(`p50 ${c.replace('|', ' x')}: heartline/floor <= 1.05x`, v, ratio(v), (x) => x <= 1.05);
}
{
  const v = ratioOf('floor', 'heartline', '64B|32', (r) => r.p99us);
  goal('p99 64B x32: heartline/floor <= 2x', v, ratio(v), (x) => x <= 2);
}
for (const c of ['64B|512', '16KiB|512']) {
  const v = ratioOf('floor', 'heartline', c, (r) => r.serverPeakRssBytes);
  // Beside the goal's ratio, each system's median growth over its idle RSS (the baseline its peak includes).
  const growth = (s) => med(across(`${s}|${c}`).map((r) => r.serverPeakRssBytes - r.serverIdleRssBytes));
  const shown = fin(growth('heartline')) ? `${ratio(v)} (over idle: heartline +${mib(growth('heartline'))} MiB, floor +${mib(growth('floor'))} MiB)` : ratio(v);
  goal(`provider peak RSS ${c.replace('|', ' x')}: heartline/floor <= 1.3x`, v, shown, (x) => x <= 1.3);
}
{
  const v = med(holAcross('heartline|bulk').map((r) => r.p99us)) / 1000;
  const alone = med(holAcross('heartline|alone').map((r) => r.p99us)) / 1000;
  goal('p99 of 64 B calls (8 in flight) with one 4 MiB call always in flight (heartline) <= 5 ms', v, fin(v) ? `${v.toFixed(2)} ms (alone: ${fixed(2)(alone)} ms)` : 'n/a', (x) => x <= 5);
}
{
  const cpu = med(conn('idle.cpuPct'));
  goal('10,000 idle connections: provider CPU < 1% of one core', cpu, fin(cpu) ? `${cpu.toFixed(2)}% (${rate(med(conn('idle.connections')))} connections)` : 'n/a', (x) => x < 1);
  const kib = med(conn('idle.rssPerConnKiB'));
  goal('10,000 idle connections: provider RSS <= 8 KiB per connection', kib, fin(kib) ? `${kib.toFixed(2)} KiB (heap ${fixed(2)(med(conn('idle.heapPerConnKiB')))} KiB)` : 'n/a', (x) => x <= 8);
  const failed = Math.max(...conn('burst.failed').filter(fin)); // any failure in any run misses
  const time = med(conn('burst.allAnsweredS'));
  goal("5,000 consumers' first calls at once at a fresh provider: 0 failed (worst run), time reported", fin(failed) ? failed : NaN,
    fin(failed) ? `${failed} failed of ${rate(med(conn('burst.calls')))}; all settled in ${fixed(2)(time)} s` : 'n/a', (x) => x === 0 && fin(time));
}
console.log(`\n## Issue #13's goals (medians of ${runs.length} run(s); ratios are medians of the per-run ratios)\n`);
console.log(table(['goal', 'measured (median)', 'verdict'], goals));

// ---- the median plot
if (plotPath && medianCells.length) {
  const { tsImport } = await import('tsx/esm/api');
  const { plotSvg } = await tsImport('./plot.ts', import.meta.url);
  const points = medianCells.map(({ system, size, inflight, callsPerSec, p99us }) => ({ system, size, inflight, callsPerSec, p99us }));
  const dates = runs.map((r) => r.meta?.date?.slice(0, 10)).filter(Boolean);
  fs.writeFileSync(plotPath, plotSvg(points, `median of ${runs.length} run(s) of npm run bench${dates.length ? `, ${[...new Set(dates)].join(', ')}` : ''}`));
  console.log(`\nplot written to ${plotPath}`);
}
