import { channel, type Channel } from 'node:diagnostics_channel';

/**
 * Heartline's `diagnostics_channel` channels, the way undici publishes its
 * own: APM tools and OpenTelemetry subscribe with
 * `diagnostics_channel.subscribe(name, fn)`, with no code in Heartline. The
 * names and payloads are a stable API (README "Call context"). A message is
 * built only when the channel has subscribers, so an unobserved call pays one
 * property read. A subscriber that throws cannot break a call: Node reports
 * its error on `process.nextTick`, as for any diagnostics_channel subscriber.
 *
 * Call events of one call share the same `call` object, so a subscriber can
 * key its own state on it (a span, a start time).
 */
export const CHANNEL_NAMES = {
  /** A consumer call starts: `{ call: ClientCall }`, before interceptors. */
  clientCallStart: 'heartline:client:call:start',
  /** A consumer call resolved: `{ call, result, duration }` (ms, after interceptors). */
  clientCallEnd: 'heartline:client:call:end',
  /** A consumer call failed: `{ call, error, duration }`. */
  clientCallError: 'heartline:client:call:error',
  /** A provider call starts: `{ call: ServerCall }`, once its request is read. */
  serverCallStart: 'heartline:server:call:start',
  /** A provider call's handler succeeded: `{ call, result, duration }`. */
  serverCallEnd: 'heartline:server:call:end',
  /** A provider call failed (refused, not found, or the handler failed): `{ call, error, duration }`. */
  serverCallError: 'heartline:server:call:error',
  /** A consumer connection finished its handshake: `{ connection: ConnectionInfo }`. */
  clientConnect: 'heartline:client:connect',
  /** A consumer connection closed: `{ connection: ConnectionInfo, reason: DisconnectReason }`. */
  clientDisconnect: 'heartline:client:disconnect',
  /** A lost provider is reachable again: `{ address, attempts }`. */
  clientReconnect: 'heartline:client:reconnect',
  /** A provider accepted a connection (its handshake completed): `{ connection: ServerConnectionInfo }`. */
  serverConnect: 'heartline:server:connect',
  /** A provider's connection closed: `{ connection: ServerConnectionInfo, reason: DisconnectReason }`. */
  serverDisconnect: 'heartline:server:disconnect',
} as const;

export type ChannelName = (typeof CHANNEL_NAMES)[keyof typeof CHANNEL_NAMES];

export const channels: { readonly [K in keyof typeof CHANNEL_NAMES]: Channel } = {
  clientCallStart: channel(CHANNEL_NAMES.clientCallStart),
  clientCallEnd: channel(CHANNEL_NAMES.clientCallEnd),
  clientCallError: channel(CHANNEL_NAMES.clientCallError),
  serverCallStart: channel(CHANNEL_NAMES.serverCallStart),
  serverCallEnd: channel(CHANNEL_NAMES.serverCallEnd),
  serverCallError: channel(CHANNEL_NAMES.serverCallError),
  clientConnect: channel(CHANNEL_NAMES.clientConnect),
  clientDisconnect: channel(CHANNEL_NAMES.clientDisconnect),
  clientReconnect: channel(CHANNEL_NAMES.clientReconnect),
  serverConnect: channel(CHANNEL_NAMES.serverConnect),
  serverDisconnect: channel(CHANNEL_NAMES.serverDisconnect),
};
