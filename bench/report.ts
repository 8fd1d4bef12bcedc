// Formatting of results: progress lines and the final markdown tables.
import type { CaseResult } from './drive.js';

export function fmtRate(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
}

/** Microseconds: one decimal below 1 ms, whole numbers above. */
export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a';
  return us < 1000 ? us.toFixed(1) : Math.round(us).toLocaleString('en-US');
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
}

export function progressLine(r: CaseResult): string {
  const errs = r.errors ? `  errors ${r.errors} (${r.firstError ?? '?'})` : '';
  return (
    `${r.system.padEnd(10)} ${r.size.padEnd(6)} x${String(r.inflight).padEnd(4)} ` +
    `${fmtRate(r.callsPerSec).padStart(9)} calls/s  p50 ${fmtUs(r.p50us).padStart(8)} µs  ` +
    `p99 ${fmtUs(r.p99us).padStart(8)} µs${errs}`
  );
}

function table(head: string[], rows: string[][], rightAlignFrom: number): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i >= rightAlignFrom ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= rightAlignFrom ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

export function resultsTable(results: CaseResult[]): string {
  return table(
    ['system', 'size', 'in-flight', 'calls/s', 'p50 (µs)', 'p99 (µs)'],
    results.map((r) => [r.system, r.size, String(r.inflight), fmtRate(r.callsPerSec), fmtUs(r.p50us), fmtUs(r.p99us)]),
    2,
  );
}

/** `system` relative to `base` (the floor by default) for every (size, in-flight) both measured. */
export function ratioTable(results: CaseResult[], system: string, base = 'floor'): string | undefined {
  const rows: string[][] = [];
  for (const s of results.filter((r) => r.system === system)) {
    const f = results.find((r) => r.system === base && r.size === s.size && r.inflight === s.inflight);
    if (!f) continue;
    rows.push([
      s.size,
      String(s.inflight),
      fmtRate(f.callsPerSec),
      fmtRate(s.callsPerSec),
      fmtRatio(s.callsPerSec / f.callsPerSec),
      s.inflight === 1 ? fmtRatio(s.p50us / f.p50us) : '',
    ]);
  }
  if (rows.length === 0) return undefined;
  return table(
    ['size', 'in-flight', `${base} calls/s`, `${system} calls/s`, `${system}/${base} calls/s`, `${system}/${base} p50`],
    rows,
    1,
  );
}
