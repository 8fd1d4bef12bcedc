import { hasCode, Health, Reflection, type Client, type Remote, type ServiceSummary } from '../index.js';
import { failure, UsageError } from './cli-error.js';

/** A stub on the one provider at `address`: one attempt, no failover (a call by hand runs once). */
export function referTo<T>(client: Client, contract: abstract new (...args: never[]) => T, address: string, version?: string, group?: string): Remote<T> {
  return client.refer(contract, {
    providers: [address],
    cluster: 'failfast',
    retries: 0,
    ...(version === undefined ? {} : { version }),
    ...(group === undefined ? {} : { group }),
  });
}

export function reflection(client: Client, address: string): Remote<Reflection> {
  return referTo(client, Reflection, address);
}

export function health(client: Client, address: string): Remote<Health> {
  return referTo(client, Health, address);
}

/** The failure of a command whose built-in service the provider does not serve (`builtinServices: false`). */
export function notBuiltin(address: string, service: 'heartline.Reflection' | 'heartline.Health'): Error {
  return failure('SERVICE_NOT_FOUND', `${address} does not serve ${service} (builtinServices: false?)`);
}

/** Runs `work` (a call to a built-in service); its SERVICE_NOT_FOUND is the provider not serving `service`. */
export async function fromBuiltin<T>(address: string, service: 'heartline.Reflection' | 'heartline.Health', work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (hasCode(err, 'SERVICE_NOT_FOUND')) throw notBuiltin(address, service);
    throw err;
  }
}

/** The services the provider lists; undefined when it does not serve `heartline.Reflection`. */
export async function listServices(client: Client, address: string): Promise<ServiceSummary[] | undefined> {
  try {
    return await reflection(client, address).listServices();
  } catch (err) {
    if (hasCode(err, 'SERVICE_NOT_FOUND')) return undefined;
    throw err;
  }
}

/** A service as the provider serves it: name, version, group, and its methods when the provider said. */
export interface ResolvedService {
  name: string;
  version: string;
  group: string;
  methods: string[] | undefined;
}

/**
 * Finds service `name` on the provider, so that `--version` and `--group` may
 * be left out when it serves one version and group of it. Fails with
 * SERVICE_NOT_FOUND (naming what it serves) when there is none, and with a
 * usage error when several match. A provider without `heartline.Reflection`
 * is taken at its word: the flags as given, `''` for those left out.
 */
export async function resolveService(client: Client, address: string, name: string, version?: string, group?: string): Promise<ResolvedService> {
  const all = await listServices(client, address);
  if (all === undefined) return { name, version: version ?? '', group: group ?? '', methods: undefined };
  const matches = all.filter((s) => s.name === name && (version === undefined || s.version === version) && (group === undefined || s.group === group));
  if (matches.length === 1) {
    const s = matches[0]!;
    return { name, version: s.version, group: s.group, methods: s.methods };
  }
  if (matches.length === 0) {
    const served = all.filter((s) => s.name === name);
    const list = (served.length > 0 ? served : all).map(label).join(', ');
    throw failure('SERVICE_NOT_FOUND', `${address} serves no ${label({ name, version: version ?? '*', group: group ?? '*' })}; it serves ${list || 'nothing'}`);
  }
  throw new UsageError(`${address} serves several ${name}: ${matches.map(label).join(', ')}; choose one with --version and --group`);
}

/** `name`, `name:version`, or `name:version:group` (`name::group`), as the CLI prints a service. */
export function label(s: { name: string; version: string; group: string }): string {
  if (s.group !== '') return `${s.name}:${s.version}:${s.group}`;
  return s.version === '' ? s.name : `${s.name}:${s.version}`;
}
