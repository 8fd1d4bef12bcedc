import type { Client } from '../../index.js';
import { age, table, type Output } from '../output.js';
import { fromBuiltin, reflection } from '../services.js';

/** `heartline connections <host:port>`: the provider's live consumer connections (this one included), like channelz. */
export async function connections(client: Client, address: string, out: Output): Promise<void> {
  const list = await fromBuiltin(address, 'heartline.Reflection', () => reflection(client, address).listConnections());
  out.document(list);
  out.line(
    table(
      ['ID', 'PEER', 'STATE', 'AGE', 'IN-FLIGHT', 'CALLS', 'BYTES-IN', 'BYTES-OUT', 'TLS', 'LAST-ERROR'],
      list.map((c) => [
        String(c.id),
        c.peer,
        c.state,
        age(c.age),
        String(c.inFlight),
        String(c.callsDone),
        String(c.bytesIn),
        String(c.bytesOut),
        c.tls === undefined ? '' : `${c.tls.version}${c.tls.authorized ? ' (client cert)' : ''}`,
        c.lastError?.code ?? '',
      ]),
    ),
  );
}
