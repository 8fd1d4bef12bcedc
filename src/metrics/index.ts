/**
 * `heartline/metrics`: Prometheus metrics for Heartline clients and servers,
 * on a prom-client registry (prom-client is an optional peer dependency,
 * imported only here). See the README's "Metrics" section.
 */
export { collectMetrics, type HeartlineMetrics } from './collect-metrics.js';
export { DEFAULT_BUCKETS, type MetricsOptions } from './metrics-options.js';
export { OTHER, UNKNOWN } from './label-cap.js';
