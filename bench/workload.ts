// The workload shared by every system: the payload, a closed-loop driver and
// latency statistics. Nothing here knows about any transport.
import { performance } from 'node:perf_hooks';

export interface Payload {
  id: number;
  name: string;
  tags: string[];
  data: string;
}

export const SIZES = { '64B': 64, '16KiB': 16 * 1024 } as const;
export type SizeName = keyof typeof SIZES;

/** Deterministic printable ASCII, so every byte of `data` is one UTF-8 byte. */
function asciiString(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
  let seed = 0x2545f491;
  let out = '';
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    out += alphabet[(seed >>> 16) & 63];
  }
  return out;
}

export function makePayload(size: SizeName): Payload {
  return { id: 42, name: 'echo-bench', tags: ['alpha', 'beta', 'gamma'], data: asciiString(SIZES[size]) };
}

export function samePayload(a: Payload, b: unknown): boolean {
  if (typeof b !== 'object' || b === null) return false;
  const o = b as Record<string, unknown>;
  return (
    o.id === a.id &&
    o.name === a.name &&
    o.data === a.data &&
    Array.isArray(o.tags) &&
    o.tags.length === a.tags.length &&
    a.tags.every((t, i) => (o.tags as unknown[])[i] === t)
  );
}

/** Growable store of latency samples in milliseconds. */
class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface LoopResult {
  inflight: number;
  /** Calls completed inside the measured window. */
  calls: number;
  seconds: number;
  callsPerSec: number;
  /** Latencies in microseconds. */
  p50us: number;
  p99us: number;
  p999us: number;
  maxUs: number;
  /** Failed calls, warm-up included. */
  errors: number;
  firstError?: string;
}

export interface LoopOptions {
  inflight: number;
  warmupMs: number;
  measureMs: number;
  /** Give up waiting for stragglers after this long once the window closes. */
  drainTimeoutMs?: number;
  /** Awaited (with the load running) after the warm-up; the window opens when it settles. */
  beforeWindow?: () => Promise<void>;
  /** Awaited right after the window closes (the load is told to stop first). */
  afterWindow?: () => Promise<void>;
}

/**
 * Closed loop: `inflight` workers each await one call, then issue the next.
 * Calls completing during the warm-up are discarded; calls completing inside
 * the measured window count for throughput and latency.
 */
export async function closedLoop(
  call: (p: Payload) => Promise<unknown>,
  payload: Payload,
  opts: LoopOptions,
): Promise<LoopResult> {
  const samples = new Samples();
  let measuring = false;
  let stopped = false;
  let errors = 0;
  let firstError: string | undefined;
  let windowStart = 0;
  let windowEnd = 0;

  const worker = async (): Promise<void> => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        await call(payload);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (errors > 1000) stopped = true; // broken system: stop hammering it
      }
      if (measuring) samples.push(performance.now() - t0);
    }
  };

  const workers: Promise<void>[] = [];
  for (let i = 0; i < opts.inflight; i++) workers.push(worker());

  try {
    await sleep(opts.warmupMs);
    await opts.beforeWindow?.();
    measuring = true;
    windowStart = performance.now();
    await sleep(opts.measureMs);
    measuring = false;
    windowEnd = performance.now();
    stopped = true;
    await opts.afterWindow?.();
  } finally {
    stopped = true; // a failing hook stops the load too
    measuring = false;
  }

  const drainMs = opts.drainTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all(workers).then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), drainMs))),
  ]);
  clearTimeout(timer);
  if (!drained) {
    errors++;
    firstError ??= `calls still pending ${drainMs} ms after the window closed`;
  }

  const sorted = samples.sorted();
  const seconds = (windowEnd - windowStart) / 1000;
  const result: LoopResult = {
    inflight: opts.inflight,
    calls: sorted.length,
    seconds,
    callsPerSec: sorted.length / seconds,
    p50us: percentile(sorted, 0.5) * 1000,
    p99us: percentile(sorted, 0.99) * 1000,
    p999us: percentile(sorted, 0.999) * 1000,
    maxUs: (sorted.length ? sorted[sorted.length - 1]! : NaN) * 1000,
    errors,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
