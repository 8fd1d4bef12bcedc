// The bench's reporting pieces (issue #13): the plot, the window meter, and the
// medians/goals script. The bench itself is run by hand (`npm run bench`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WindowMeter } from '../../bench/meters.js';
import { plotSvg, type PlotPoint } from '../../bench/plot.js';

const cell = (system: string, size: string, inflight: number, callsPerSec: number, p99us: number): PlotPoint => ({
  system,
  size,
  inflight,
  callsPerSec,
  p99us,
});

describe('plotSvg', () => {
  it('draws one line per system and panel, with the legend, axes and no NaN', () => {
    const points: PlotPoint[] = [];
    for (const size of ['64B', '16KiB'])
      for (const [i, n] of [1, 32, 512].entries()) {
        points.push(cell('floor', size, n, 20_000 * (i + 1), 100 * (i + 1)));
        points.push(cell('heartline', size, n, 15_000 * (i + 1), 200 * (i + 1)));
        points.push(cell('grpc', size, n, 1_000 * (i + 1), 5_000 * (i + 1)));
        points.push(cell('heartline-tls', size, n, 9_000, 300)); // not plotted
      }
    points.push(cell('grpc', '64B', 2, NaN, NaN)); // a failed cell is left out
    const svg = plotSvg(points, 'a <test> & run');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(3 * 2 * 2); // systems × sizes × (calls/s, p99)
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).toContain('a &lt;test&gt; &amp; run');
    for (const label of ['>floor<', '>heartline<', '>grpc<', 'calls in flight (log)', 'p99 (ms, log)', '16KiB payload: p99'])
      expect(svg).toContain(label);
    expect(svg).not.toContain('heartline-tls');
  });
});

describe('WindowMeter', () => {
  const meter = new WindowMeter(5);

  it('counts the GC and the RSS of its window only', async () => {
    const churn = () => {
      let keep: unknown[] = [];
      for (let i = 0; i < 3_000_000; i++) {
        keep.push({ i, s: `x${i}` });
        if (keep.length > 10_000) keep = [];
      }
      return keep.length;
    };
    churn(); // garbage collected before the window opens
    await new Promise((resolve) => setTimeout(resolve, 100)); // and any GC it leaves pending settles
    meter.start();
    const quiet = await meter.stop();
    expect(quiet.gcCount).toBe(0);
    expect(quiet.gcMs).toBe(0);
    expect(quiet.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);

    meter.start();
    churn();
    const busy = await meter.stop();
    expect(busy.gcCount).toBeGreaterThan(0);
    expect(busy.gcMs).toBeGreaterThan(0);
    expect(busy.peakRssBytes).toBeGreaterThanOrEqual(quiet.peakRssBytes * 0.5);
    meter.close();
  });
});

describe('bench/median.mjs', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (heartlineRate: number, heartlineRss: number, holP99us: number) => {
    const results = [];
    for (const size of ['64B', '16KiB'])
      for (const inflight of [1, 32, 512]) {
        const base = { size, inflight, calls: 1000, seconds: 3, p50us: 100, p99us: 1000, p999us: 2000, maxUs: 3000, errors: 0, clientGcMs: 5, serverGcMs: 4 };
        results.push({ ...base, system: 'floor', callsPerSec: 1000, serverPeakRssBytes: 100 * 2 ** 20, serverIdleRssBytes: 80 * 2 ** 20 });
        results.push({ ...base, system: 'heartline', callsPerSec: heartlineRate, p99us: 1500, serverPeakRssBytes: heartlineRss * 2 ** 20, serverIdleRssBytes: 90 * 2 ** 20 });
      }
    const hol = [
      { system: 'heartline', phase: 'alone', inflight: 8, callsPerSec: 5000, p50us: 80, p99us: 300, p999us: 900, maxUs: 1000, bulkPerSec: NaN },
      { system: 'heartline', phase: 'bulk', inflight: 8, callsPerSec: 500, p50us: 800, p99us: holP99us, p999us: 9000, maxUs: 10000, bulkPerSec: 20 },
    ];
    const connections = { idle: { cpuPct: 0.5, rssPerConnKiB: 9, heapPerConnKiB: 4, connections: 10000 }, burst: { calls: 5000, failed: 0, allAnsweredS: 2.5 } };
    return { meta: { date: '2026-11-26T00:00:00Z' }, results, hol, connections };
  };

  it('prints the medians, the goals table with verdicts, and writes the median plot', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hl-median-'));
    const files = [run(880, 120, 4000), run(960, 140, 6000), run(940, 125, 4500)].map((r, i) => {
      const f = path.join(dir, `run${i}.json`);
      writeFileSync(f, JSON.stringify(r));
      return f;
    });
    const svg = path.join(dir, 'median.svg');
    const out = execFileSync(process.execPath, ['bench/median.mjs', '--plot', svg, ...files], { encoding: 'utf8' });
    const row = (goal: string) => out.split('\n').find((l) => l.startsWith(`| ${goal}`)) ?? `(no row for ${goal})`;
    expect(row('calls/s 64B x32')).toMatch(/\| 0\.94x \| met \|$/); // median of 0.88, 0.96, 0.94
    expect(row('p50 64B x1')).toMatch(/\| 1\.00x \| met \|$/);
    expect(row('p99 64B x32')).toMatch(/\| 1\.50x \| met \|$/);
    expect(row('provider peak RSS 64B x512')).toMatch(/\| 1\.25x \(over idle: heartline \+35\.0 MiB, floor \+20\.0 MiB\) \| met \|$/);
    expect(row('p99 of 64 B calls')).toMatch(/\| 4\.50 ms \(alone: 0\.30 ms\) \| met \|$/);
    expect(row('10,000 idle connections: provider CPU')).toMatch(/\| met \|$/);
    expect(row('10,000 idle connections: provider RSS')).toMatch(/9\.00 KiB.*\| \*\*missed\*\* \|$/);
    expect(row("5,000 consumers' first calls")).toMatch(/0 failed of 5,000; all settled in 2\.50 s \| met \|$/);
    expect(out).toContain('| heartline | 64B | 512 | 3 | 940 |'); // median calls/s
    expect(readFileSync(svg, 'utf8')).toContain('median of 3 run(s)');
  });

  it('says "not measured" for a goal no run has', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'hl-median-'));
    const r = run(900, 100, 1000);
    const f = path.join(dir, 'run.json');
    writeFileSync(f, JSON.stringify({ ...r, hol: [], connections: undefined }));
    const out = execFileSync(process.execPath, ['bench/median.mjs', '--plot', '0', f], { encoding: 'utf8' });
    expect(out).toMatch(/\| p99 of 64 B calls[^\n]*\| n\/a \| not measured \|/);
    expect(out).toMatch(/\| 10,000 idle connections: provider CPU[^\n]*\| not measured \|/);
    expect(out).not.toContain('plot written');
  });
});
