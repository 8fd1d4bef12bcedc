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
 * key its own state on it (a span, a start time). Every message names the
 * `Client` or `Server` it comes from (`client` / `server`), so that a
 * subscriber can tell several of them apart in one process.
 */
export const CHANNEL_NAMES = {
  /** A consumer call starts: `{ call: ClientCall, client }`, before interceptors. */
  clientCallStart: 'heartline:client:call:start',
  /** A consumer call resolved: `{ call, client, result, duration }` (ms, after interceptors). */
  clientCallEnd: 'heartline:client:call:end',
  /** A consumer call failed: `{ call, client, error, duration }`. */
  clientCallError: 'heartline:client:call:error',
  /** A provider call starts: `{ call: ServerCall, server }`, once its request is read. */
  serverCallStart: 'heartline:server:call:start',
  /** A provider call's handler succeeded: `{ call, server, result, duration }`. */
  serverCallEnd: 'heartline:server:call:end',
  /** A provider call failed (refused, not found, or the handler failed): `{ call, server, error, duration }`. */
  serverCallError: 'heartline:server:call:error',
  /** A consumer connection finished its handshake: `{ connection: ConnectionInfo, client }`. */
  clientConnect: 'heartline:client:connect',
  /** A consumer connection closed: `{ connection: ConnectionInfo, client, reason: DisconnectReason }`. */
  clientDisconnect: 'heartline:client:disconnect',
  /** A lost provider is reachable again: `{ address, attempts, client }`. */
  clientReconnect: 'heartline:client:reconnect',
  /** A consumer connection measured a round trip (a pong came back): `{ client, address, connectionId, rtt }` (ms). */
  clientHeartbeat: 'heartline:client:heartbeat',
  /** A provider accepted a connection (its handshake completed): `{ connection: ServerConnectionInfo, server }`. */
  serverConnect: 'heartline:server:connect',
  /** A provider's connection closed: `{ connection: ServerConnectionInfo, server, reason: DisconnectReason }`. */
  serverDisconnect: 'heartline:server:disconnect',
  /**
   * A provider refused work at one of its limits with LIMIT_EXCEEDED:
   * `{ server, limit, peer, call }`, `limit` being `accepts` (a connection;
   * `call` undefined), `maxConcurrentCalls` (a request, before it became a
   * call; `call` undefined), `maxCallbacks` or `executes` (a call).
   */
  serverRefuse: 'heartline:server:refuse',
  /**
   * A provider's push to a consumer callback settled: `{ server, peer,
   * connectionId, error, duration }` (`error` undefined when the consumer
   * answered with a value; ms).
   */
  serverPush: 'heartline:server:push',
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
  clientHeartbeat: channel(CHANNEL_NAMES.clientHeartbeat),
  serverConnect: channel(CHANNEL_NAMES.serverConnect),
  serverDisconnect: channel(CHANNEL_NAMES.serverDisconnect),
  serverRefuse: channel(CHANNEL_NAMES.serverRefuse),
  serverPush: channel(CHANNEL_NAMES.serverPush),
};

/** The limit a provider refused at (`heartline:server:refuse`). */
export type RefusedLimit = 'accepts' | 'maxConcurrentCalls' | 'maxCallbacks' | 'executes';
