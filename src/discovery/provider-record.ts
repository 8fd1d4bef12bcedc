import type { Announcement, PublishedService } from '../provider/publisher.js';

/**
 * The key layout in the registry, under a prefix (default `/heartline`):
 *
 * ```
 *  <prefix>/<service>/<version>/<group>/providers/<host:port>   JSON ProviderRecord, bound to the provider's lease
 *  <prefix>/<service>/<version>/<group>/weights/<host:port>     a number: an operator's weight, wins over the record's
 * ```
 *
 * Each of service, version and group is URI-encoded (`encodeURIComponent`),
 * so none contains `/`; an empty version or group is an empty segment
 * (`/heartline/demo.Greeter/1.0.0//providers/10.0.0.5:20880`).
 */
export const PROVIDERS = 'providers';
export const WEIGHTS = 'weights';

/** The value of a `providers/` key. */
export interface ProviderRecord {
  /** `host:port` consumers connect to. */
  address: string;
  weight: number;
  service: string;
  version: string;
  group: string;
  methods: string[];
  pid: number;
  /** ISO 8601. */
  startTime: string;
  metadata: Record<string, unknown>;
}

/** `<prefix>/<service>/<version>/<group>/`: every key of one service version and group starts with it. */
export function serviceKeyPrefix(prefix: string, service: string, version: string, group: string): string {
  return `${prefix}/${encodeURIComponent(service)}/${encodeURIComponent(version)}/${encodeURIComponent(group)}/`;
}

/** The keys and values one announcement publishes. */
export function announcementRecords(prefix: string, a: Announcement): Array<{ key: string; value: string }> {
  return a.services.map((s: PublishedService) => {
    const record: ProviderRecord = {
      address: a.address,
      weight: a.weight,
      service: s.service,
      version: s.version,
      group: s.group,
      methods: [...s.methods],
      pid: a.pid,
      startTime: a.startTime,
      metadata: { ...a.metadata },
    };
    return { key: `${serviceKeyPrefix(prefix, s.service, s.version, s.group)}${PROVIDERS}/${a.address}`, value: JSON.stringify(record) };
  });
}

/** Splits the part of a key after its service prefix: `providers/<addr>` or `weights/<addr>`; undefined for anything else. */
export function classifyKey(rest: string): { kind: typeof PROVIDERS | typeof WEIGHTS; address: string } | undefined {
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const kind = rest.slice(0, slash);
  const address = rest.slice(slash + 1);
  if ((kind !== PROVIDERS && kind !== WEIGHTS) || address === '') return undefined;
  return { kind, address };
}

/** The weight in a record's JSON, or an error message. The record's address must be its key's. */
export function parseRecordWeight(value: string, address: string): number | string {
  let record: Partial<ProviderRecord>;
  try {
    record = JSON.parse(value) as Partial<ProviderRecord>;
  } catch {
    return 'not JSON';
  }
  if (typeof record !== 'object' || record === null) return 'not a JSON object';
  if (record.address !== address) return `its address ${JSON.stringify(record.address)} is not its key's`;
  return parseWeight(record.weight ?? 100);
}

/** A weight: a finite number >= 0 (a `weights/` value is its text, e.g. `50`). */
export function parseWeight(value: unknown): number | string {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : `weight ${JSON.stringify(value)} is not a finite number >= 0`;
}
