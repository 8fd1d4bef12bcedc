import type { Client } from '../../index.js';
import { table, type Output } from '../output.js';
import { listServices, notBuiltin } from '../services.js';

/** `heartline ls <host:port>`: the services the provider serves, with their versions, groups and methods. */
export async function ls(client: Client, address: string, out: Output): Promise<void> {
  const services = await listServices(client, address);
  if (services === undefined) throw notBuiltin(address, 'heartline.Reflection');
  out.document(services);
  out.line(table(['SERVICE', 'VERSION', 'GROUP', 'METHODS'], services.map((s) => [s.name, s.version, s.group, s.methods.join(', ')])));
}
