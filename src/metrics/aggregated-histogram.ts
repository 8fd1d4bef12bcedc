import { Histogram, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client';

/**
 * One histogram series kept by Heartline itself: a call adds to an array
 * (no allocation, no label hashing); prom-client sees it only at scrape time.
 * `counts[i]` holds the observations in (bounds[i-1], bounds[i]]; those above
 * the last bound are only in `count`.
 */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

type Values = MetricObjectWithValues<MetricValueWithName<string>>;

/**
 * A prom-client Histogram whose values are the `HistogramSeries` that
 * `series()` lists, read when the registry is scraped, in prom-client's own
 * JSON shape (`getMetricsAsJSON`): `_bucket` (cumulative, `le`), `_sum` and
 * `_count` per series. Its own `observe()` is not used.
 */
export class AggregatedHistogram extends Histogram<string> {
  private readonly metricName: string;
  private readonly bounds: readonly number[];

  constructor(
    config: { name: string; help: string; labelNames: readonly string[]; buckets: number[]; registers: Registry[] },
    private readonly series: () => Iterable<readonly [Record<string, string>, HistogramSeries]>,
  ) {
    super(config);
    this.metricName = config.name;
    this.bounds = [...config.buckets];
  }

  override async get(): Promise<Values> {
    const values: Array<MetricValueWithName<string>> = [];
    const bucket = `${this.metricName}_bucket`;
    for (const [labels, s] of this.series()) {
      if (s.count === 0 && Object.keys(labels).length > 0) continue; // a labelled series shows once observed; an unlabelled one always, as prom-client's
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ labels: { ...labels, le: this.bounds[i]! }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: bucket });
      values.push({ labels, value: s.sum, metricName: `${this.metricName}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.metricName}_count` });
    }
    // prom-client's typings say `type` is an enum; at run time it is the string ('histogram'), as here.
    const base = this as unknown as { help: string; type: string; aggregator: string };
    return { name: this.metricName, help: base.help, type: base.type, values, aggregator: base.aggregator } as unknown as Values;
  }

  /** What the registry's text output reads when present: the same values. */
  getForPromString(): Promise<Values> {
    return this.get();
  }
}
