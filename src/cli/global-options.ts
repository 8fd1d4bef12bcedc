import { readFileSync } from 'node:fs';
import { Client, silentLogger, type ClientOptions, type ClientTlsOptions } from '../index.js';
import { UsageError } from './cli-error.js';

/** The options every command takes (before or after its name). */
export interface GlobalOptions {
  /** One JSON document on stdout instead of tables. */
  json?: boolean;
  /** Time allowed for each step (connect and handshake, each call, each ping), in ms (>= 1). Default 5000. */
  timeout: number;
  /** TLS with Node's bundled CAs (implied by any of the options below). */
  tls?: boolean;
  /** PEM file of the CA(s) to trust. */
  ca?: string;
  /** PEM files of the client's certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
  /** Server name to send (SNI) and check the certificate against. */
  servername?: string;
  /** The client's `credentials`: a token sent in every handshake (`--token`, or HEARTLINE_TOKEN). */
  token?: string;
}

export const DEFAULT_TIMEOUT_MS = 5000;

/** Parses a whole number of ms (`--timeout`, `--interval`) or fails with a usage error naming the option. */
export function parseMs(option: string, min = 0): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min || n > 2_147_483_647) {
      throw new UsageError(`${option} must be a whole number of ms >= ${min} (got ${JSON.stringify(text)})`);
    }
    return n;
  };
}

/** The `tls` client option the TLS flags ask for, or undefined for plain TCP. */
export function tlsOptions(o: GlobalOptions): ClientTlsOptions | undefined {
  if (o.tls !== true && o.ca === undefined && o.cert === undefined && o.key === undefined && o.servername === undefined) return undefined;
  if ((o.cert === undefined) !== (o.key === undefined)) throw new UsageError('--cert and --key go together (mutual TLS)');
  const tls: ClientTlsOptions = {};
  if (o.ca !== undefined) tls.ca = readPem('--ca', o.ca);
  if (o.cert !== undefined) tls.cert = readPem('--cert', o.cert);
  if (o.key !== undefined) tls.key = readPem('--key', o.key);
  if (o.servername !== undefined) tls.servername = o.servername;
  return tls;
}

function readPem(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read the ${option} file ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * A client for one command: quiet (failures are reported by the command),
 * `--timeout` for connecting and for each call, TLS from the flags. `extra`
 * adds options (the ping interval as the proposed heartbeat).
 */
export function openClient(o: GlobalOptions, extra: ClientOptions = {}): Client {
  const tls = tlsOptions(o);
  return new Client({
    logger: silentLogger,
    timeout: o.timeout,
    connectTimeout: o.timeout,
    ...(tls === undefined ? {} : { tls }),
    ...(o.token === undefined ? {} : { credentials: o.token }),
    ...extra,
  });
}

/** Runs `work` with a client made by `openClient`, and closes it whatever happens. */
export async function withClient<T>(o: GlobalOptions, work: (client: Client) => Promise<T>, extra: ClientOptions = {}): Promise<T> {
  const client = openClient(o, extra);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
