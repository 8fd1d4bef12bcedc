// What one process spends during a measured window: GC pauses (PerformanceObserver
// 'gc' entries) and its peak resident set size (sampled). Used by the server child
// (both) and the client child (GC); the window is opened and closed over IPC.
import { PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';

export interface WindowStats {
  /** GC time whose pause started inside the window, in milliseconds. */
  gcMs: number;
  /** GC pauses that started inside the window. */
  gcCount: number;
  /** Highest RSS seen inside the window (sampled every `sampleMs` plus at both ends), in bytes. */
  peakRssBytes: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WindowMeter {
  private readonly observer: PerformanceObserver;
  private readonly sampler: NodeJS.Timeout;
  private open = false;
  private t0 = 0;
  /** GC entries since the window opened (bounded: a few thousand per window at most). */
  private entries: { start: number; ms: number }[] = [];
  private peak = 0;

  /** @param sampleMs RSS sampling period in milliseconds (default 20). */
  constructor(sampleMs = 20) {
    this.observer = new PerformanceObserver((list) => {
      if (!this.open) return;
      for (const e of list.getEntries() as PerformanceEntry[]) {
        if (e.startTime >= this.t0) this.entries.push({ start: e.startTime, ms: e.duration });
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.sampler = setInterval(() => this.sample(), sampleMs);
    this.sampler.unref();
  }

  private sample(): void {
    if (!this.open) return;
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Opens a window: forgets everything measured before. */
  start(): void {
    this.entries = [];
    this.t0 = performance.now();
    this.open = true;
    this.peak = 0;
    this.sample();
  }

  /**
   * Closes the window. GC entries reach the observer asynchronously, so it waits
   * `flushMs` (default 30) before summing those that started before the close.
   */
  async stop(flushMs = 30): Promise<WindowStats> {
    this.sample();
    const t1 = performance.now();
    const peakRssBytes = this.peak;
    await sleep(flushMs);
    this.open = false;
    let gcMs = 0;
    let gcCount = 0;
    for (const e of this.entries) {
      if (e.start > t1) continue;
      gcMs += e.ms;
      gcCount++;
    }
    this.entries = [];
    return { gcMs, gcCount, peakRssBytes };
  }

  close(): void {
    this.observer.disconnect();
    clearInterval(this.sampler);
  }
}
