import type { HeartlineError } from '../errors/heartline-error.js';
import { checkLogger, checkNumber, invalidConfig } from '../errors/invalid-config.js';
import { MAX_TIMER_MS } from '../protocol/constants.js';
import { consoleLogger, type Logger } from '../transport/logger.js';
import { guardedLogger } from '../transport/log-fields.js';

/** Longest lease TTL, in ms: whole seconds within what a Node timer takes. */
const MAX_TTL = Math.floor(MAX_TIMER_MS / 1000) * 1000;

/** Options of `new EtcdRegistry(options)`. Every time is in ms. */
export interface EtcdRegistryOptions {
  /** etcd endpoints, `http://host:port` (or `https://` with `credentials`). Default `http://127.0.0.1:2379`. */
  hosts?: string | readonly string[];
  /** Prefix of every key, starting with `/` and not ending with one. Default `/heartline`. */
  prefix?: string;
  /** TTL of a provider's lease: a multiple of 1000 (etcd counts whole seconds), at least 1000. A crashed provider is dropped within it. Default 10000. */
  ttl?: number;
  /** TLS to etcd: PEM root certificate and, for client certificates, private key and certificate chain. Default none (plain text). */
  credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer };
  /** etcd user name and password (etcd's auth). Default none. */
  auth?: { username: string; password: string };
  /** Deadline of each etcd request, and of connecting. Default 5000. */
  requestTimeout?: number;
  /** Where outages and ignored keys are reported: `warn(fields, msg)`/`error(fields, msg)`, pino-compatible (a pino logger fits; README "Logs"). Default: `consoleLogger` (warn and error on stderr, one line each). */
  logger?: Logger;
}

export interface ResolvedEtcdOptions {
  readonly hosts: readonly string[];
  readonly prefix: string;
  readonly ttl: number;
  readonly credentials: EtcdRegistryOptions['credentials'];
  readonly auth: EtcdRegistryOptions['auth'];
  readonly requestTimeout: number;
  readonly logger: Logger;
}

/** Checks every option (INVALID_CONFIG naming it) and fills in the defaults; never mutates `options`. */
export function resolveEtcdOptions(options: EtcdRegistryOptions): ResolvedEtcdOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  const o = options as Record<keyof EtcdRegistryOptions, unknown>;
  const hosts = o.hosts === undefined ? ['http://127.0.0.1:2379'] : typeof o.hosts === 'string' ? [o.hosts] : o.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0 || !hosts.every((h) => typeof h === 'string' && /^(https?:\/\/)?[^/\s]+:\d{1,5}$/.test(h))) {
    throw invalid('hosts', "'http://host:port' or a non-empty array of them", o.hosts);
  }
  const prefix = o.prefix === undefined ? '/heartline' : o.prefix;
  if (typeof prefix !== 'string' || !/^\/.*[^/]$/.test(prefix)) throw invalid('prefix', "a string starting with '/' and not ending with '/'", prefix);
  const ttl = o.ttl === undefined ? 10_000 : o.ttl;
  // At most what a Node timer takes: etcd3 arms its keepalive for the lease's TTL, and a longer delay fires at once.
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1000 || ttl % 1000 !== 0 || ttl > MAX_TTL) {
    throw invalid('ttl', `a multiple of 1000 (ms), from 1000 to ${MAX_TTL}`, ttl);
  }
  const requestTimeout = checkNumber('EtcdRegistry requestTimeout', o.requestTimeout, { min: 1, max: MAX_TIMER_MS }) ?? 5000;
  const c = o.credentials as EtcdRegistryOptions['credentials'] | null | undefined;
  if (c !== undefined && (typeof c !== 'object' || c === null || !Buffer.isBuffer(c.rootCertificate) || !optionalBuffer(c.privateKey) || !optionalBuffer(c.certChain))) {
    throw invalid('credentials', '{ rootCertificate, privateKey?, certChain? } of Buffers', c);
  }
  const a = o.auth as EtcdRegistryOptions['auth'] | null | undefined;
  if (a !== undefined && (typeof a !== 'object' || a === null || typeof a.username !== 'string' || typeof a.password !== 'string')) {
    throw invalid('auth', '{ username, password } of strings', a);
  }
  const userLogger = checkLogger<Logger>('EtcdRegistry logger', o.logger);
  const logger = userLogger === undefined ? consoleLogger : guardedLogger(userLogger); // its lines never throw
  return Object.freeze({
    hosts: Object.freeze([...(hosts as string[])]),
    prefix,
    ttl,
    credentials: c === undefined ? undefined : Object.freeze({ ...c }),
    auth: a === undefined ? undefined : Object.freeze({ ...a }),
    requestTimeout,
    logger,
  });
}

function optionalBuffer(value: unknown): boolean {
  return value === undefined || Buffer.isBuffer(value);
}

function invalid(path: string, rule: string, value: unknown): HeartlineError {
  return invalidConfig(`EtcdRegistry ${path}`, rule, value);
}
