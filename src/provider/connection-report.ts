import type { ConnectionReport } from '../contract/reflection.js';
import type { ServerConnectionInfo } from './server.js';

/**
 * The live counters `server.connections()` may carry (issue #11: bytes,
 * calls done, last error). Read when present, so this mapping works before
 * and after they are added to `ServerConnectionInfo`.
 */
interface LiveCounters {
  bytesIn?: number;
  bytesOut?: number;
  callsDone?: number;
  lastError?: { code: unknown; message: unknown } | undefined;
}

/**
 * The one mapping from a provider's view of a connection to what
 * `heartline.Reflection#listConnections` answers (protocol.md 10). It copies
 * named fields only, so nothing added to `ServerConnectionInfo` later leaks
 * out by accident; in particular never a credential, a principal, or a
 * certificate's subject (TLS gives only its version and `authorized`), and
 * of the last error only its code and message (no stack, no details).
 */
export function connectionReport(info: ServerConnectionInfo): ConnectionReport {
  const live = info as ServerConnectionInfo & LiveCounters;
  const report: ConnectionReport = {
    id: info.id,
    peer: info.peer,
    state: info.state,
    age: Math.round(info.age),
    inFlight: info.inFlight,
    bytesIn: count(live.bytesIn),
    bytesOut: count(live.bytesOut),
    callsDone: count(live.callsDone),
  };
  const last = live.lastError;
  if (last !== undefined && last !== null) report.lastError = { code: String(last.code), message: String(last.message) };
  if (info.tls !== undefined) report.tls = { version: info.tls.protocol, authorized: info.tls.authorized };
  return report;
}

function count(n: number | undefined): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}
