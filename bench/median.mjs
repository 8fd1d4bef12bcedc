// Medians over several `BENCH_JSON` files of `npm run bench`: for each cell, each run's ratio of two systems, then the middle one.
// Usage: node bench/median.mjs run1.json run2.json run3.json
import fs from 'node:fs';
const files = process.argv.slice(2);
const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')).results);
const key = (r) => `${r.system}|${r.size}|${r.inflight}`;
const maps = runs.map((rs) => new Map(rs.map((r) => [key(r), r])));
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const cells = [...maps[0].keys()].filter((k) => k.startsWith('floor|')).map((k) => k.split('|').slice(1).join('|'));
const pair = (a, b, label) => {
  console.log(`\n| size | in-flight | ${a} calls/s (median) | ${b} calls/s (median) | ${b}/${a} calls/s (median of per-run ratios) | ${b}/${a} p99 |`);
  console.log('|---|--:|--:|--:|--:|--:|');
  for (const c of cells) {
    const ra = maps.map((m) => m.get(`${a}|${c}`)); const rb = maps.map((m) => m.get(`${b}|${c}`));
    if (ra.some((x) => !x) || rb.some((x) => !x)) continue;
    const [size, inf] = c.split('|');
    const ratio = med(rb.map((r, i) => r.callsPerSec / ra[i].callsPerSec));
    const p99 = med(rb.map((r, i) => r.p99us / ra[i].p99us));
    console.log(`| ${size} | ${inf} | ${Math.round(med(ra.map((r) => r.callsPerSec))).toLocaleString('en')} | ${Math.round(med(rb.map((r) => r.callsPerSec))).toLocaleString('en')} | ${ratio.toFixed(2)}x | ${p99.toFixed(2)}x |`);
  }
};
pair('floor', 'heartline'); pair('grpc', 'heartline'); pair('heartline', 'heartline-tls'); pair('heartline', 'heartline3');
