import { register as globalRegistry, type Registry } from 'prom-client';
import { Client } from '../consumer/client.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { Server } from '../provider/server.js';

/** Options of `collectMetrics`. */
export interface MetricsOptions {
  /** The prom-client registry to register the metrics in. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Clients to observe: their series are summed (use a second registry or prefix to keep two apart). Default none. */
  clients?: readonly Client[];
  /** Servers to observe, summed like `clients`. Default none. */
  servers?: readonly Server[];
  /** Prefix of every metric name. Default `'heartline_'`. */
  prefix?: string;
  /**
   * Upper bounds of the histogram buckets, in seconds, increasing (call
   * durations, handler durations, heartbeat round trips). Default
   * `DEFAULT_BUCKETS`: 0.5 ms to 10 s.
   */
  buckets?: readonly number[];
  /**
   * Distinct (service, method) label pairs per side (consumer, provider);
   * calls past the cap are counted under `service="<other>", method="<other>"`.
   * Default 500.
   */
  maxLabelValues?: number;
}

/** Default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

export interface ResolvedMetricsOptions {
  registry: Registry;
  clients: Client[];
  servers: Server[];
  prefix: string;
  buckets: number[];
  maxLabelValues: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function invalid(message: string): HeartlineError {
  return new HeartlineError('INVALID_CONFIG', `collectMetrics: ${message}`);
}

/** Checks every option (INVALID_CONFIG naming it) and fills in the defaults. */
export function resolveMetricsOptions(options: MetricsOptions): ResolvedMetricsOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
  const registry = options.registry ?? globalRegistry;
  if (typeof registry !== 'object' || registry === null || typeof registry.getSingleMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
    throw invalid('registry must be a prom-client Registry');
  }
  const clients = list(options.clients, 'clients', Client);
  const servers = list(options.servers, 'servers', Server);
  if (clients.length === 0 && servers.length === 0) throw invalid('pass at least one of clients and servers');
  const prefix = options.prefix ?? 'heartline_';
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME.test(prefix))) throw invalid(`prefix must match ${NAME.source} (or be ''), got ${JSON.stringify(prefix)}`);
  const given: unknown = options.buckets ?? DEFAULT_BUCKETS;
  const buckets = Array.isArray(given) ? [...(given as number[])] : [];
  if (buckets.length === 0 || buckets.some((b, i) => typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= buckets[i - 1]!))) {
    throw invalid('buckets must be a non-empty array of finite numbers > 0, increasing (seconds)');
  }
  const maxLabelValues = options.maxLabelValues ?? 500;
  if (typeof maxLabelValues !== 'number' || !Number.isInteger(maxLabelValues) || maxLabelValues < 1) throw invalid(`maxLabelValues must be an integer >= 1, got ${String(maxLabelValues)}`);
  return { registry, clients, servers, prefix, buckets, maxLabelValues };
}

function list<T>(value: readonly T[] | undefined, name: string, type: abstract new (...args: never[]) => T): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${name} must be an array`);
  for (const item of value) if (!(item instanceof type)) throw invalid(`${name} must hold ${type.name} instances`);
  return [...new Set(value)];
}
