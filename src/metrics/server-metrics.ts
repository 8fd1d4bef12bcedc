import { CHANNEL_NAMES, type RefusedLimit } from '../context/channels.js';
import { ConnectionState } from '../exchange/connection-state.js';
import { outcomeCode } from '../provider/call-outcome.js';
import type { Server, ServerConnectionInfo } from '../provider/server.js';
import type { IncomingCall } from '../provider/server-call.js';
import { clientCode } from './client-metrics.js';
import { LabelCap, UNKNOWN, type LabelSet } from './label-cap.js';
import { ByteTotal, reportCalls, type MetricSet } from './metric-set.js';

/** Unprefixed names of the provider's metrics. */
export const SERVER_METRICS = [
  'server_calls_total',
  'server_call_duration_seconds',
  'server_calls_executing',
  'server_refusals_total',
  'server_connections',
  'server_pushes_total',
  'server_received_bytes_total',
  'server_sent_bytes_total',
] as const;

/** The states a live provider connection can be in. */
const STATES = [ConnectionState.Handshaking, ConnectionState.Authenticating, ConnectionState.Ready, ConnectionState.Draining];
const LIMITS: readonly RefusedLimit[] = ['accepts', 'maxConcurrentCalls', 'maxCallbacks', 'executes'];

interface CallMessage {
  call: IncomingCall;
  server: Server;
  duration: number;
  error?: unknown;
}

/**
 * The provider's metrics for `servers`: calls and their durations from the
 * call channels, refusals and pushes from theirs, and at scrape time what
 * `server.connections()` says.
 */
export function observeServers(set: MetricSet, servers: ReadonlySet<Server>, maxLabelValues: number): void {
  const cap = new LabelCap(maxLabelValues, () => set.series());
  set.counter('server_calls_total', 'Provider calls settled, by service, method and code (OK for a success).', ['service', 'method', 'code'], (counter) => reportCalls(counter, cap));
  set.histogram('server_call_duration_seconds', 'Provider call duration in seconds, from the request read to the outcome (interceptors and handler).', ['service', 'method'], () => cap.durations());
  set.gauge('server_calls_executing', 'Provider calls executing.', [], (g) => {
    let n = 0;
    for (const s of servers) for (const c of s.connections()) n += c.inFlight;
    g.set(n);
  });
  const refusals = set.counter('server_refusals_total', 'Work a provider refused with LIMIT_EXCEEDED, by limit (accepts, maxConcurrentCalls, maxCallbacks, executes).', ['limit']);
  for (const limit of LIMITS) refusals.inc({ limit }, 0);
  set.gauge('server_connections', 'Provider connections, by state.', ['state'], (g) => {
    const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
    for (const s of servers) for (const c of s.connections()) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
    for (const [state, n] of counts) g.set({ state }, n);
  });
  const pushes = set.counter('server_pushes_total', 'Provider pushes to consumer callbacks, by code (OK when the consumer answered with a value).', ['code']);
  const bytesIn = new ByteTotal();
  const bytesOut = new ByteTotal();
  set.counter('server_received_bytes_total', 'Bytes read from provider connections, frame headers included.', [], (counter) => bytesIn.report(counter, live(servers, 'bytesIn')));
  set.counter('server_sent_bytes_total', 'Bytes written to provider connections, frame headers included.', [], (counter) => bytesOut.report(counter, live(servers, 'bytesOut')));

  set.listen<CallMessage>(CHANNEL_NAMES.serverCallEnd, (m) => {
    if (!servers.has(m.server)) return;
    const l = cap.of(m.call.service, m.call.method);
    l.count('OK');
    l.durations.observe(m.duration / 1000);
  });
  set.listen<CallMessage>(CHANNEL_NAMES.serverCallError, (m) => {
    if (!servers.has(m.server)) return;
    const code = outcomeCode(m.call, m.error);
    const l = labelsFor(cap, m.call, code);
    l.count(code);
    l.durations.observe(m.duration / 1000);
  });
  set.listen<{ server: Server; limit: RefusedLimit }>(CHANNEL_NAMES.serverRefuse, (m) => {
    if (servers.has(m.server) && LIMITS.includes(m.limit)) refusals.inc({ limit: m.limit });
  });
  set.listen<{ server: Server; error: unknown }>(CHANNEL_NAMES.serverPush, (m) => {
    if (servers.has(m.server)) pushes.inc({ code: m.error === undefined ? 'OK' : clientCode(m.error) });
  });
  set.listen<{ server: Server; connection: ServerConnectionInfo }>(CHANNEL_NAMES.serverDisconnect, (m) => {
    if (!servers.has(m.server)) return;
    bytesIn.closed += m.connection.bytesIn;
    bytesOut.closed += m.connection.bytesOut;
  });
}

/**
 * A failed call's labels. A name the provider does not serve comes from the
 * peer, and a hostile one could send a new name per call: it is reported as
 * `<unknown>` (the service too when the service is unknown), never as sent.
 */
function labelsFor(cap: LabelCap, call: IncomingCall, code: string): LabelSet {
  if (code === 'SERVICE_NOT_FOUND') return cap.of(UNKNOWN, UNKNOWN);
  if (code === 'METHOD_NOT_FOUND') return cap.of(call.service, UNKNOWN);
  return cap.of(call.service, call.method);
}

function live(servers: ReadonlySet<Server>, field: 'bytesIn' | 'bytesOut'): number {
  let n = 0;
  for (const s of servers) for (const c of s.connections()) n += c[field];
  return n;
}
