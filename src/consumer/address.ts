import { HeartlineError } from '../errors/heartline-error.js';

/** A provider's TCP address. */
export interface ProviderAddress {
  readonly host: string;
  readonly port: number;
  /** `host:port` (`[v6]:port` for IPv6), the registry key. */
  readonly key: string;
}

/** Parses `host:port` or `[ipv6]:port`; throws INVALID_CONFIG on anything else. */
export function parseAddress(text: string): ProviderAddress {
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(String(text).trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new HeartlineError('INVALID_CONFIG', `invalid provider address ${JSON.stringify(text)}: expected host:port`);
  }
  const v6 = match[1];
  const host = v6 ?? match[2]!;
  return Object.freeze({ host, port, key: v6 !== undefined ? `[${v6}]:${port}` : `${host}:${port}` });
}
