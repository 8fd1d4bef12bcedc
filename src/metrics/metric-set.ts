import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AggregatedHistogram, HistogramSeries } from './aggregated-histogram.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { LabelCap } from './label-cap.js';

/**
 * The metrics one `collectMetrics` registered, and the channels it listens
 * to: `close()` undoes both. Metric names get the prefix here; a name already
 * in the registry fails with INVALID_CONFIG before anything is registered.
 */
export class MetricSet {
  /** Each metric made here, with the name it was registered under. */
  private readonly metrics: Array<[string, object]> = [];
  private readonly subscriptions: Array<[string, (message: unknown) => void]> = [];

  constructor(
    private readonly registry: Registry,
    private readonly prefix: string,
    private readonly buckets: number[],
  ) {}

  /** Throws INVALID_CONFIG when one of `names` (unprefixed) is registered already. */
  checkFree(names: readonly string[]): void {
    for (const name of names) {
      if (this.registry.getSingleMetric(this.prefix + name) !== undefined) {
        throw new HeartlineError('INVALID_CONFIG', `collectMetrics: ${this.prefix + name} is already registered in this registry (close the other collectMetrics, or give this one another registry or prefix)`);
      }
    }
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (metric: Counter<L>) => void): Counter<L> {
    return this.own(new Counter<L>({ name: this.prefix + name, help, labelNames, registers: [this.registry], ...(collect && { collect() { collect(this); } }) }), name);
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect: (metric: Gauge<L>) => void): Gauge<L> {
    return this.own(new Gauge<L>({ name: this.prefix + name, help, labelNames, registers: [this.registry], collect() { collect(this); } }), name);
  }

  /** A histogram of the series `series()` lists at scrape time (see AggregatedHistogram). */
  histogram(name: string, help: string, labelNames: readonly string[], series: () => Iterable<readonly [Record<string, string>, HistogramSeries]>): AggregatedHistogram {
    return this.own(new AggregatedHistogram({ name: this.prefix + name, help, labelNames, buckets: this.buckets, registers: [this.registry] }, series), name);
  }

  /** A series of a histogram kept here, for this set's buckets. */
  series(): HistogramSeries {
    return new HistogramSeries(this.buckets);
  }

  /**
   * Subscribes `fn` to a Heartline channel until `close()`. A throw in `fn`
   * is swallowed: a diagnostics_channel subscriber's error would surface as
   * an uncaught exception in the process.
   */
  listen<M>(channel: string, fn: (message: M) => void): void {
    const guarded = (message: unknown): void => {
      try {
        fn(message as M);
      } catch {
        // a metric is not worth a crash
      }
    };
    subscribe(channel, guarded);
    this.subscriptions.push([channel, guarded]);
  }

  /** Remembers a metric made (and registered) here, to remove it on close. */
  private own<T extends object>(metric: T, name: string): T {
    this.metrics.push([this.prefix + name, metric]);
    return metric;
  }

  /** Unsubscribes every channel and removes every metric. Idempotent. */
  close(): void {
    for (const [channel, fn] of this.subscriptions.splice(0)) unsubscribe(channel, fn);
    // By the name registered under (an OpenMetrics registry renames a counter, dropping `_total`, as it scrapes,
    // but keeps it under that name), and only if it is still ours.
    for (const [name, metric] of this.metrics.splice(0)) if ((this.registry.getSingleMetric(name) as object | undefined) === metric) this.registry.removeSingleMetric(name);
  }
}

/** Hands the call counts kept in `cap` to `counter` (labels service, method, code): at scrape time. */
export function reportCalls(counter: Counter<'service' | 'method' | 'code'>, cap: LabelCap): void {
  counter.reset();
  for (const set of cap.sets()) for (const [code, n] of set.counts) counter.inc({ service: set.labels.service, method: set.labels.method, code }, n);
}

/**
 * A counter of bytes read from live connections at scrape time plus those of
 * connections closed since (their final counts, from the disconnect
 * channel). What it reports never goes down: a connection gone from the live
 * list before its disconnect event arrives (a client closing) only delays its
 * last bytes to a later scrape.
 */
export class ByteTotal {
  /** Final counts of the connections closed since the collector started. */
  closed = 0;
  private reported = 0;

  /** Adds to `counter` what is new since the last scrape. */
  report(counter: Counter<string>, live: number): void {
    const total = this.closed + live;
    if (total > this.reported) {
      counter.inc(total - this.reported);
      this.reported = total;
    }
  }
}
