import type { HistogramSeries } from './aggregated-histogram.js';

/** What a call's `service` and `method` labels become past the cap. */
export const OTHER = '<other>';
/** The `service` or `method` label of a call to something the provider does not serve. */
export const UNKNOWN = '<unknown>';

/**
 * One (service, method) pair: its label values, made once, and its call
 * counts by code, kept here (a Map update per call) and handed to
 * prom-client only when the registry is scraped: prom-client's own `inc`
 * hashes and checks the labels on every call.
 */
export class LabelSet {
  readonly labels: { service: string; method: string };
  /** Calls settled, by code (a closed set: the error codes, `OK`, `OTHER`). */
  readonly counts = new Map<string, number>();
  /** Their durations, in seconds. */
  readonly durations: HistogramSeries;

  constructor(service: string, method: string, durations: HistogramSeries) {
    this.labels = { service, method };
    this.durations = durations;
  }

  count(code: string): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
  }
}

/**
 * Bounds the distinct (service, method) label pairs of one side: the first
 * `max` pairs seen get their own labels, every later one shares
 * `{ service: '<other>', method: '<other>' }`. Memory stays bounded
 * whatever names calls carry. Lookups allocate nothing once a pair is known.
 */
export class LabelCap {
  private readonly services = new Map<string, Map<string, LabelSet>>();
  private size = 0;
  readonly other: LabelSet;

  /** `series()` makes the duration histogram series of each pair. */
  constructor(
    readonly max: number,
    private readonly series: () => HistogramSeries,
  ) {
    this.other = new LabelSet(OTHER, OTHER, series());
  }

  /** Distinct pairs with their own labels so far (at most `max`). */
  get count(): number {
    return this.size;
  }

  /** The duration series of every pair, with its labels (scrape time). */
  *durations(): IterableIterator<readonly [Record<string, string>, HistogramSeries]> {
    for (const set of this.sets()) yield [set.labels, set.durations];
  }

  /** Every pair that has labels of its own, then `<other>`. */
  *sets(): IterableIterator<LabelSet> {
    for (const methods of this.services.values()) yield* methods.values();
    yield this.other;
  }

  of(service: string, method: string): LabelSet {
    let methods = this.services.get(service);
    const known = methods?.get(method);
    if (known !== undefined) return known;
    if (this.size >= this.max) return this.other;
    if (methods === undefined) {
      methods = new Map();
      this.services.set(service, methods);
    }
    const set = new LabelSet(service, method, this.series());
    methods.set(method, set);
    this.size++;
    return set;
  }
}
