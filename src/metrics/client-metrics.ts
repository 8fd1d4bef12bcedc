import type { Client } from '../consumer/client.js';
import type { ClientCall } from '../consumer/client-interceptor.js';
import type { ConnectionInfo } from '../consumer/connection-registry.js';
import { CHANNEL_NAMES } from '../context/channels.js';
import { isErrorCode } from '../errors/codes.js';
import { ConnectionState } from '../exchange/connection-state.js';
import { LabelCap } from './label-cap.js';
import { ByteTotal, reportCalls, type MetricSet } from './metric-set.js';

/** Unprefixed names of the consumer's metrics. */
export const CLIENT_METRICS = [
  'client_calls_total',
  'client_call_duration_seconds',
  'client_calls_in_flight',
  'client_calls_waiting',
  'client_connections',
  'client_reconnects_total',
  'client_heartbeat_rtt_seconds',
  'client_received_bytes_total',
  'client_sent_bytes_total',
] as const;

/** The states a live consumer connection can be in (`closed` ones are gone from `connections()`; `authenticating` is the provider's). */
const STATES = [ConnectionState.Connecting, ConnectionState.Handshaking, ConnectionState.Ready, ConnectionState.Draining, ConnectionState.Closing];

interface CallMessage {
  call: ClientCall;
  client: Client;
  duration: number;
  error?: unknown;
}

/** The `code` label of a consumer call's failure: its Heartline code, or `OTHER` (an interceptor threw something else). */
export function clientCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : 'OTHER';
}

/**
 * The consumer's metrics for `clients`: calls and their durations from the
 * call channels (end and error only: a logical call once, after retries),
 * reconnects and heartbeat round trips from their channels, and at scrape
 * time what `client.pendingCalls`, `client.waitingCalls` and
 * `client.connections()` say.
 */
export function observeClients(set: MetricSet, clients: ReadonlySet<Client>, maxLabelValues: number): void {
  const labels = new LabelCap(maxLabelValues, () => set.series());
  set.counter('client_calls_total', 'Consumer calls settled, by service, method and code (OK for a success).', ['service', 'method', 'code'], (counter) => reportCalls(counter, labels));
  set.histogram('client_call_duration_seconds', 'Consumer call duration in seconds, interceptors and retries included.', ['service', 'method'], () => labels.durations());
  set.gauge('client_calls_in_flight', 'Consumer calls admitted to a provider, waiting for an active slot or for their response.', [], (g) => {
    let n = 0;
    for (const c of clients) n += c.pendingCalls;
    g.set(n);
  });
  set.gauge('client_calls_waiting', 'Consumer calls waiting for an actives / serviceActives slot.', [], (g) => {
    let n = 0;
    for (const c of clients) n += c.waitingCalls;
    g.set(n);
  });
  set.gauge('client_connections', 'Consumer connections, by state.', ['state'], (g) => {
    const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
    for (const c of clients) for (const conn of c.connections()) counts.set(conn.state, (counts.get(conn.state) ?? 0) + 1);
    for (const [state, n] of counts) g.set({ state }, n);
  });
  const reconnects = set.counter('client_reconnects_total', 'Lost providers reachable again.');
  const rtt = set.series();
  set.histogram('client_heartbeat_rtt_seconds', 'Heartbeat round trip (ping to pong) in seconds.', [], () => [[{}, rtt]]);
  const bytesIn = new ByteTotal();
  const bytesOut = new ByteTotal();
  set.counter('client_received_bytes_total', 'Bytes read from consumer connections, frame headers included.', [], (counter) => bytesIn.report(counter, live(clients, 'bytesIn')));
  set.counter('client_sent_bytes_total', 'Bytes written to consumer connections, frame headers included.', [], (counter) => bytesOut.report(counter, live(clients, 'bytesOut')));

  set.listen<CallMessage>(CHANNEL_NAMES.clientCallEnd, (m) => {
    if (!clients.has(m.client)) return;
    const l = labels.of(m.call.service, m.call.method);
    l.count('OK');
    l.durations.observe(m.duration / 1000);
  });
  set.listen<CallMessage>(CHANNEL_NAMES.clientCallError, (m) => {
    if (!clients.has(m.client)) return;
    const l = labels.of(m.call.service, m.call.method);
    l.count(clientCode(m.error));
    l.durations.observe(m.duration / 1000);
  });
  set.listen<{ client: Client }>(CHANNEL_NAMES.clientReconnect, (m) => {
    if (clients.has(m.client)) reconnects.inc();
  });
  set.listen<{ client: Client; rtt: number }>(CHANNEL_NAMES.clientHeartbeat, (m) => {
    if (clients.has(m.client)) rtt.observe(m.rtt / 1000);
  });
  set.listen<{ client: Client; connection: ConnectionInfo }>(CHANNEL_NAMES.clientDisconnect, (m) => {
    if (!clients.has(m.client)) return;
    bytesIn.closed += m.connection.bytesIn;
    bytesOut.closed += m.connection.bytesOut;
  });
}

function live(clients: ReadonlySet<Client>, field: 'bytesIn' | 'bytesOut'): number {
  let n = 0;
  for (const c of clients) for (const conn of c.connections()) n += conn[field];
  return n;
}
