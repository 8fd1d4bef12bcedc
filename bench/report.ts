// Formatting of results: progress lines and the final markdown tables.
import type { CaseResult } from './drive.js';
import type { HolResult } from './hol.js';

export function fmtRate(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/** Microseconds: one decimal below 1 ms, whole numbers above. */
export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  return us < 1000 ? us.toFixed(1) : Math.round(us).toLocaleString('en-US');
}

/** Bytes as MiB with one decimal. */
export function fmtMiB(bytes: number | undefined): string {
  return bytes !== undefined && Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : 'n/a';
}

/** Milliseconds with two decimals (GC time). */
function fmtMs(ms: number | undefined): string {
  return ms !== undefined && Number.isFinite(ms) ? ms.toFixed(2) : 'n/a';
}

/** GC milliseconds per 1000 calls of the window. */
export function gcPer1k(gcMs: number | undefined, calls: number): number {
  return gcMs !== undefined && calls > 0 ? (gcMs / calls) * 1000 : NaN;
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
}

export function progressLine(r: CaseResult): string {
  const errs = r.errors ? `  errors ${r.errors} (${r.firstError ?? '?'})` : '';
  return (
    `${r.system.padEnd(10)} ${r.size.padEnd(6)} x${String(r.inflight).padEnd(4)} ` +
    `${fmtRate(r.callsPerSec).padStart(9)} calls/s  p50 ${fmtUs(r.p50us).padStart(8)} µs  ` +
    `p99 ${fmtUs(r.p99us).padStart(8)} µs  p99.9 ${fmtUs(r.p999us).padStart(8)} µs  ` +
    `provider RSS ${fmtMiB(r.serverPeakRssBytes).padStart(6)} MiB${errs}`
  );
}

export function holLine(r: HolResult): string {
  const errs = r.errors || r.bulkErrors ? `  errors ${r.errors} + ${r.bulkErrors} bulk (${r.firstError ?? '?'})` : '';
  const bulk = r.phase === 'bulk' ? `  4 MiB calls ${r.bulkPerSec.toFixed(1)}/s` : '';
  return (
    `${r.system.padEnd(10)} hol ${r.phase.padEnd(5)} x${HOL(r)} ${fmtRate(r.callsPerSec).padStart(9)} calls/s  ` +
    `p50 ${fmtUs(r.p50us).padStart(8)} µs  p99 ${fmtUs(r.p99us).padStart(8)} µs  p99.9 ${fmtUs(r.p999us).padStart(8)} µs${bulk}${errs}`
  );
}

const HOL = (r: HolResult) => String(r.inflight).padEnd(4);

function table(head: string[], rows: string[][], rightAlignFrom: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= rightAlignFrom ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

export function resultsTable(results: CaseResult[]): string {
  return table(
    ['system', 'size', 'in-flight', 'calls/s', 'p50 (µs)', 'p99 (µs)', 'p99.9 (µs)', 'max (µs)', 'provider peak RSS (MiB)'],
    results.map((r) => [
      r.system,
      r.size,
      String(r.inflight),
      fmtRate(r.callsPerSec),
      fmtUs(r.p50us),
      fmtUs(r.p99us),
      fmtUs(r.p999us),
      fmtUs(r.maxUs),
      fmtMiB(r.serverPeakRssBytes),
    ]),
    2,
  );
}

/** GC on both sides over each window: total ms and ms per 1000 calls; the consumer's peak RSS too. */
export function sideTable(results: CaseResult[]): string {
  return table(
    [
      'system',
      'size',
      'in-flight',
      'consumer GC (ms)',
      'consumer GC ms / 1k calls',
      'provider GC (ms)',
      'provider GC ms / 1k calls',
      'consumer peak RSS (MiB)',
      'provider idle RSS (MiB)',
    ],
    results.map((r) => [
      r.system,
      r.size,
      String(r.inflight),
      fmtMs(r.clientGcMs),
      fmtMs(gcPer1k(r.clientGcMs, r.calls)),
      fmtMs(r.serverGcMs),
      fmtMs(gcPer1k(r.serverGcMs, r.calls)),
      fmtMiB(r.clientPeakRssBytes),
      fmtMiB(r.serverIdleRssBytes),
    ]),
    2,
  );
}

export function holTable(results: HolResult[]): string {
  return table(
    ['system', 'phase', 'calls/s', 'p50 (µs)', 'p99 (µs)', 'p99.9 (µs)', 'max (µs)', '4 MiB calls/s', 'provider peak RSS (MiB)'],
    results.map((r) => [
      r.system,
      r.phase === 'bulk' ? 'with one 4 MiB call in flight' : 'alone',
      fmtRate(r.callsPerSec),
      fmtUs(r.p50us),
      fmtUs(r.p99us),
      fmtUs(r.p999us),
      fmtUs(r.maxUs),
      r.phase === 'bulk' ? r.bulkPerSec.toFixed(1) : '',
      fmtMiB(r.serverPeakRssBytes),
    ]),
    2,
  );
}

/** `system` relative to `base` (the floor by default) for every (size, in-flight) both measured. */
export function ratioTable(results: CaseResult[], system: string, base = 'floor'): string | undefined {
  const rows: string[][] = [];
  for (const s of results.filter((r) => r.system === system)) {
    const f = results.find((r) => r.system === base && r.size === s.size && r.inflight === s.inflight);
    if (!f) continue;
    const rss = (x: CaseResult) => x.serverPeakRssBytes ?? NaN;
    rows.push([
      s.size,
      String(s.inflight),
      fmtRate(f.callsPerSec),
      fmtRate(s.callsPerSec),
      fmtRatio(s.callsPerSec / f.callsPerSec),
      fmtRatio(s.p50us / f.p50us),
      fmtRatio(s.p99us / f.p99us),
      fmtRatio(s.p999us / f.p999us),
      fmtRatio(rss(s) / rss(f)),
    ]);
  }
  if (rows.length === 0) return undefined;
  const r = `${system}/${base}`;
  return table(
    ['size', 'in-flight', `${base} calls/s`, `${system} calls/s`, `${r} calls/s`, `${r} p50`, `${r} p99`, `${r} p99.9`, `${r} peak RSS`],
    rows,
    1,
  );
}
