import { CLIENT_METRICS, observeClients } from './client-metrics.js';
import { MetricSet } from './metric-set.js';
import { resolveMetricsOptions, type MetricsOptions } from './metrics-options.js';
import { observeServers, SERVER_METRICS } from './server-metrics.js';

/** What `collectMetrics` returns. */
export interface HeartlineMetrics {
  /** Unsubscribes from Heartline's channels and removes the metrics from the registry. Idempotent. */
  close(): void;
}

/**
 * Registers Heartline's metrics for `clients` and `servers` on a prom-client
 * registry:
 *
 * ```ts
 * const metrics = collectMetrics({ registry, clients: [client], servers: [server] });
 * // ... registry.metrics() ...
 * metrics.close();
 * ```
 *
 * Counts come from Heartline's `diagnostics_channel` channels, gauges and
 * byte totals are read when the registry is scraped: nothing is added to a
 * call's path but the channel messages, which are built only while someone
 * subscribes. Labels are only `service`, `method`, `code`, `state` and
 * `limit`, with at most `maxLabelValues` (service, method) pairs per side.
 * Throws INVALID_CONFIG for a bad option, or when a metric of that name is
 * already in the registry.
 */
export function collectMetrics(options: MetricsOptions): HeartlineMetrics {
  const o = resolveMetricsOptions(options);
  const set = new MetricSet(o.registry, o.prefix, o.buckets);
  set.checkFree([...(o.clients.length > 0 ? CLIENT_METRICS : []), ...(o.servers.length > 0 ? SERVER_METRICS : [])]);
  try {
    if (o.clients.length > 0) observeClients(set, new Set(o.clients), o.maxLabelValues);
    if (o.servers.length > 0) observeServers(set, new Set(o.servers), o.maxLabelValues);
  } catch (err) {
    set.close();
    throw err;
  }
  return { close: () => set.close() };
}
