import type { ProviderRecord } from '../../index.js';
import { failure, UsageError } from '../cli-error.js';
import { table, type Output } from '../output.js';

/** One provider of a service, as `ls --etcd` reports it. */
export interface ListedProvider {
  address: string;
  /** The weight consumers use: the operator's (`weights/` key) when set, else the provider's own. */
  weight: number;
  /** The operator's weight (`weights/` key), when one is set. */
  operatorWeight?: number;
  methods: string[];
  pid: number | undefined;
  startTime: string | undefined;
  metadata: Record<string, unknown>;
}

/** One service version and group, as `ls --etcd` reports it. */
export interface ListedService {
  service: string;
  version: string;
  group: string;
  providers: ListedProvider[];
}

/**
 * `heartline ls --etcd <hosts>`: every service the registry holds and its
 * providers, read from the key layout of `EtcdRegistry` (README, "etcd"):
 * `<prefix>/<service>/<version>/<group>/providers/<host:port>` (a JSON
 * record) and `.../weights/<host:port>` (an operator's weight). Keys of any
 * other shape are skipped. `hosts` is comma-separated.
 */
export async function etcdLs(hosts: string, prefix: string, timeout: number, out: Output): Promise<void> {
  const kvs = await readPrefix(hosts, prefix, timeout);
  const services = listServices(prefix, kvs);
  out.document(services);
  out.line(
    table(
      ['SERVICE', 'VERSION', 'GROUP', 'PROVIDER', 'WEIGHT', 'PID', 'STARTED'],
      services.flatMap((s) =>
        s.providers.map((p) => [s.service, s.version, s.group, p.address, `${p.weight}${p.operatorWeight === undefined ? '' : ' (set)'}`, String(p.pid ?? ''), p.startTime ?? '']),
      ),
    ),
  );
}

async function readPrefix(hosts: string, prefix: string, timeout: number): Promise<Record<string, string>> {
  let mod: typeof import('etcd3');
  try {
    mod = await import('etcd3');
  } catch {
    throw new UsageError('ls --etcd needs the etcd3 package: npm install etcd3');
  }
  const list = hosts.split(',').map((h) => h.trim()).filter((h) => h !== '').map((h) => (/^https?:\/\//.test(h) ? h : `http://${h}`));
  if (list.length === 0) throw new UsageError('--etcd expects host:port (or http://host:port), comma-separated');
  const etcd = new mod.Etcd3({
    hosts: list,
    dialTimeout: timeout,
    defaultCallOptions: () => ({ deadline: Date.now() + timeout }),
    // Once, as is: etcd3's default policies retry and open a circuit breaker.
    faultHandling: { host: () => ONCE as never, global: ONCE as never },
  });
  try {
    return await etcd.getAll().prefix(`${prefix}/`).strings();
  } catch (err) {
    throw failure('UNAVAILABLE', `etcd at ${list.join(',')} did not answer: ${(err as Error).message}`);
  } finally {
    etcd.close();
  }
}

/** A fault-handling policy that runs each call once. */
const ONCE = {
  execute: <T>(fn: (context: { signal: AbortSignal }) => T | Promise<T>): Promise<T> => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
};

/** Groups the keys under `prefix` by service, version and group; sorted by service, then provider address. */
export function listServices(prefix: string, kvs: Record<string, string>): ListedService[] {
  const services = new Map<string, ListedService>();
  const weights = new Map<string, number>();
  const records: Array<{ key: string; service: ListedService; address: string; value: string }> = [];
  for (const [key, value] of Object.entries(kvs)) {
    const parts = key.slice(prefix.length + 1).split('/');
    if (!key.startsWith(`${prefix}/`) || parts.length !== 5 || (parts[3] !== 'providers' && parts[3] !== 'weights')) continue;
    let decoded: string[];
    try {
      decoded = parts.slice(0, 3).map(decodeURIComponent);
    } catch {
      continue;
    }
    const [service, version, group] = decoded as [string, string, string];
    const id = `${parts[0]}/${parts[1]}/${parts[2]}`;
    const address = parts[4]!;
    if (parts[3] === 'weights') {
      const w = Number(value);
      if (value.trim() !== '' && Number.isFinite(w) && w >= 0) weights.set(`${id}/${address}`, w);
      continue;
    }
    let s = services.get(id);
    if (s === undefined) services.set(id, (s = { service, version, group, providers: [] }));
    records.push({ key: `${id}/${address}`, service: s, address, value });
  }
  for (const r of records) {
    let rec: Partial<ProviderRecord> = {};
    try {
      const parsed: unknown = JSON.parse(r.value);
      if (typeof parsed === 'object' && parsed !== null) rec = parsed as Partial<ProviderRecord>;
    } catch {
      // An unreadable record still names a provider: listed with what its key says.
    }
    const own = typeof rec.weight === 'number' && Number.isFinite(rec.weight) && rec.weight >= 0 ? rec.weight : 100;
    const operatorWeight = weights.get(r.key);
    const p: ListedProvider = {
      address: r.address,
      weight: operatorWeight ?? own,
      methods: Array.isArray(rec.methods) ? rec.methods.map(String) : [],
      pid: typeof rec.pid === 'number' ? rec.pid : undefined,
      startTime: typeof rec.startTime === 'string' ? rec.startTime : undefined,
      metadata: typeof rec.metadata === 'object' && rec.metadata !== null ? rec.metadata : {},
    };
    if (operatorWeight !== undefined) p.operatorWeight = operatorWeight;
    r.service.providers.push(p);
  }
  const list = [...services.values()];
  for (const s of list) s.providers.sort((a, b) => a.address.localeCompare(b.address));
  return list.sort((a, b) => a.service.localeCompare(b.service) || a.version.localeCompare(b.version) || a.group.localeCompare(b.group));
}
