import { networkInterfaces } from 'node:os';
import type { Logger } from '../transport/logger.js';

/** Hosts that mean "every interface": consumers cannot connect to them. */
const WILDCARDS = new Set(['0.0.0.0', '::', '', '::0']);

/**
 * The `host:port` a provider publishes in a registry. `advertise` (host or
 * host:port) wins; otherwise the bound host and port, except that a wildcard
 * bind (`0.0.0.0`, `::`, no `host`) is replaced by the first non-internal
 * IPv4 interface (then IPv6, then 127.0.0.1), with a warning saying so.
 */
export function advertisedAddress(advertise: string | undefined, bound: { host: string; port: number }, logger: Logger): string {
  if (advertise !== undefined) {
    const split = splitHostPort(advertise);
    return join(split.host, split.port ?? bound.port);
  }
  if (!WILDCARDS.has(bound.host)) return join(bound.host, bound.port);
  const guess = firstExternalAddress();
  logger.warn(
    { advertise: join(guess, bound.port) },
    `the server listens on every interface (${bound.host === '' ? 'no host' : bound.host}): publishing ${join(guess, bound.port)} in the registry; set the advertise option to choose the address consumers should use`,
  );
  return join(guess, bound.port);
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; a bare IPv6 address has no port. Undefined when it is none of these. */
export function splitHostPort(text: string): { host: string; port: number | undefined } {
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracket !== null) return { host: bracket[1]!, port: bracket[2] === undefined ? undefined : Number(bracket[2]) };
  const colons = text.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = text.split(':') as [string, string];
    return { host, port: /^\d{1,5}$/.test(port) ? Number(port) : NaN };
  }
  return { host: text, port: undefined };
}

function join(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function firstExternalAddress(): string {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const external = all.filter((i) => !i.internal);
  return external.find((i) => i.family === 'IPv4')?.address ?? external.find((i) => i.family === 'IPv6' && !i.address.startsWith('fe80'))?.address ?? '127.0.0.1';
}
