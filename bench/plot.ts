// The bench's plot, as an SVG string (no dependency): calls/s (linear) and p99
// (log) against in-flight (log) for floor, heartline and grpc, one column of two
// panels per payload size. Used by run.ts (one run) and median.mjs (medians).

/** One echo cell; the fields of CaseResult the plot reads. */
export interface PlotPoint {
  system: string;
  size: string;
  inflight: number;
  callsPerSec: number;
  p99us: number;
}

const SERIES = [
  { system: 'floor', color: '#6b6b6b', dash: '6 4' },
  { system: 'heartline', color: '#1f77b4', dash: '' },
  { system: 'grpc', color: '#e07b00', dash: '' },
] as const;

const PANEL = { w: 340, h: 200 };
const MARGIN = { left: 70, right: 20, top: 84, bottom: 46, gap: 62, col: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number) => (Math.round(n * 10) / 10).toString();

/** A round upper bound (1, 2, 2.5 or 5 × 10^k) and its tick step, for a linear axis from 0. */
function linearTicks(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

function fmtRate(n: number): string {
  if (n >= 1e6) return `${num(n / 1e6)}M`;
  if (n >= 1e3) return `${num(n / 1e3)}k`;
  return num(n);
}

function fmtMs(ms: number): string {
  return ms >= 1 ? Math.round(ms).toLocaleString('en-US') : ms.toPrecision(1).replace(/\.?0+$/, '');
}

export function plotSvg(points: PlotPoint[], subtitle: string): string {
  const sizes = [...new Set(points.map((p) => p.size))];
  const shown = SERIES.filter((s) => points.some((p) => p.system === s.system));
  const inflights = [...new Set(points.map((p) => p.inflight))].filter((n) => n > 0).sort((a, b) => a - b);
  const width = MARGIN.left + sizes.length * PANEL.w + (sizes.length - 1) * (MARGIN.col + MARGIN.left) + MARGIN.right;
  const height = MARGIN.top + 2 * PANEL.h + MARGIN.gap + MARGIN.bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="15" font-weight="bold">Heartline bench: calls/s and p99 against calls in flight (one connection)</text>`,
    `<text x="${MARGIN.left}" y="38" fill="#444">${esc(subtitle)}</text>`,
  ];

  // Legend, one row under the subtitle.
  shown.forEach((s, i) => {
    const x = MARGIN.left + i * 120;
    const y = 58;
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<circle cx="${x + 12}" cy="${y}" r="3" fill="${s.color}"/>`,
      `<text x="${x + 30}" y="${y + 4}">${s.system}</text>`,
    );
  });

  const lx = Math.log10(inflights[0] ?? 1);
  const hx = Math.log10(inflights[inflights.length - 1] ?? 10);
  const xAt = (x0: number, n: number) => x0 + (hx > lx ? ((Math.log10(n) - lx) / (hx - lx)) * PANEL.w : PANEL.w / 2);

  sizes.forEach((size, col) => {
    const x0 = MARGIN.left + col * (PANEL.w + MARGIN.col + MARGIN.left);
    const cells = points.filter((p) => p.size === size);
    for (const row of [0, 1] as const) {
      const y0 = MARGIN.top + row * (PANEL.h + MARGIN.gap);
      const value = (p: PlotPoint) => (row === 0 ? p.callsPerSec : p.p99us / 1000);
      const values = cells.map(value).filter((v) => Number.isFinite(v) && v > 0);
      let yAt: (v: number) => number;
      const ticks: { v: number; label: string }[] = [];
      if (row === 0) {
        const { top, step } = linearTicks(Math.max(0, ...values));
        yAt = (v) => y0 + PANEL.h - (v / top) * PANEL.h;
        for (let v = 0; v <= top + step / 2; v += step) ticks.push({ v, label: fmtRate(v) });
      } else {
        const lo = Math.floor(Math.log10(Math.min(...values, 1)));
        const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values, 1))));
        yAt = (v) => y0 + PANEL.h - ((Math.log10(v) - lo) / (hi - lo)) * PANEL.h;
        for (let e = lo; e <= hi; e++) ticks.push({ v: 10 ** e, label: fmtMs(10 ** e) });
      }
      out.push(`<rect x="${x0}" y="${y0}" width="${PANEL.w}" height="${PANEL.h}" fill="none" stroke="#999"/>`);
      for (const t of ticks) {
        const y = num(yAt(t.v));
        out.push(
          `<line x1="${x0}" y1="${y}" x2="${x0 + PANEL.w}" y2="${y}" stroke="#e4e4e4"/>`,
          `<text x="${x0 - 6}" y="${y}" dy="4" text-anchor="end">${t.label}</text>`,
        );
      }
      for (const n of inflights) {
        const x = num(xAt(x0, n));
        out.push(
          `<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + PANEL.h}" stroke="#e4e4e4"/>`,
          `<text x="${x}" y="${y0 + PANEL.h + 16}" text-anchor="middle">${n}</text>`,
        );
      }
      const label = row === 0 ? 'calls/s' : 'p99 (ms, log)';
      const cy = y0 + PANEL.h / 2;
      out.push(
        `<text x="${x0 - 52}" y="${cy}" text-anchor="middle" transform="rotate(-90 ${x0 - 52} ${cy})">${label}</text>`,
        `<text x="${x0 + PANEL.w / 2}" y="${y0 + PANEL.h + 32}" text-anchor="middle">calls in flight (log)</text>`,
        `<text x="${x0 + PANEL.w / 2}" y="${y0 - 6}" text-anchor="middle" font-weight="bold">${esc(size)} payload: ${row === 0 ? 'calls/s' : 'p99'}</text>`,
      );
      for (const s of shown) {
        const pts = cells
          .filter((p) => p.system === s.system && Number.isFinite(value(p)) && value(p) > 0)
          .sort((a, b) => a.inflight - b.inflight)
          .map((p) => `${num(xAt(x0, p.inflight))},${num(yAt(value(p)))}`);
        if (pts.length === 0) continue;
        out.push(
          `<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
          ...pts.map((xy) => `<circle cx="${xy.split(',')[0]}" cy="${xy.split(',')[1]}" r="3.5" fill="${s.color}"/>`),
        );
      }
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
