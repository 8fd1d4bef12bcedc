import type { ConnectionReport } from '../contract/reflection.js';
import type { ServerConnectionInfo } from './server.js';

/**
 * The one mapping from a provider's view of a connection to what
 * `heartline.Reflection#listConnections` answers (protocol.md 10). It copies
 * named fields only, so nothing added to `ServerConnectionInfo` later leaks
 * out by accident; in particular never a credential, a principal, or a
 * certificate's subject (TLS gives only its version and `authorized`), and
 * of the last error only its code: its message may quote another consumer's
 * data (`account of alice@example.com is locked`), and every consumer that
 * can call Reflection reads every connection's report. `server.connections()`
 * keeps the message, locally.
 */
export function connectionReport(info: ServerConnectionInfo): ConnectionReport {
  const report: ConnectionReport = {
    id: info.id,
    peer: info.peer,
    state: info.state,
    age: Math.round(info.age),
    inFlight: info.inFlight,
    bytesIn: info.bytesIn,
    bytesOut: info.bytesOut,
    callsDone: info.callsDone,
  };
  const last = info.lastError;
  if (last !== undefined) report.lastError = { code: last.code };
  if (info.tls !== undefined) report.tls = { version: info.tls.protocol, authorized: info.tls.authorized };
  return report;
}
