import type { Client } from '../../index.js';
import { EXIT } from '../cli-error.js';
import type { Output } from '../output.js';
import { fromBuiltin, health as healthOf } from '../services.js';

/** `heartline health <host:port> [service]`: the health check; exit 0 only for SERVING (3 otherwise). */
export async function health(client: Client, address: string, service: string | undefined, out: Output): Promise<number> {
  const status = await fromBuiltin(address, 'heartline.Health', () => healthOf(client, address).check(service ?? ''));
  out.document({ service: service ?? '', status });
  out.line(service === undefined ? status : `${service}: ${status}`);
  return status === 'SERVING' ? EXIT.ok : EXIT.notServing;
}
