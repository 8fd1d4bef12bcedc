import type { Client, MethodDescription } from '../../index.js';
import { printable, table, type Output } from '../output.js';
import { fromBuiltin, label, reflection, resolveService } from '../services.js';

/** `heartline describe <host:port> <service>`: the service's methods with their contract options. */
export async function describe(client: Client, address: string, name: string, version: string | undefined, group: string | undefined, out: Output): Promise<void> {
  const s = await resolveService(client, address, name, version, group);
  const describeIt = () => reflection(client, address).describeService(s.name, s.version, s.group);
  // No methods: it did not list its services; SERVICE_NOT_FOUND then means no heartline.Reflection.
  const d = await (s.methods === undefined ? fromBuiltin(address, 'heartline.Reflection', describeIt) : describeIt());
  out.document(d);
  out.line(printable(`${label(d)}  (version ${d.version || '-'}, group ${d.group || '-'})`));
  out.line(
    table(
      ['METHOD', 'TIMEOUT', 'ONE-WAY', 'IDEMPOTENT', 'RETRIES', 'ACTIVES', 'CALLBACKS'],
      d.methods.map((m: MethodDescription & { actives?: number }) => [
        m.name,
        m.timeout === undefined ? '' : `${m.timeout} ms`,
        yesNo(m.oneWay),
        yesNo(m.idempotent),
        m.retries === undefined ? '' : String(m.retries),
        m.actives === undefined ? '' : String(m.actives),
        m.callbacks.length === 0 ? '' : m.callbacks.map((i) => `arg ${i}`).join(', '),
      ]),
    ),
  );
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}
