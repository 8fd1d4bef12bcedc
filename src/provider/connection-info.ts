import type { PeerTls } from '../transport/secure-socket.js';
import { now } from '../transport/clock.js';
import type { ServerConnection } from './server-connection.js';

/** A live consumer connection as `server.connections()` reports it. */
export interface ServerConnectionInfo {
  id: number;
  /** Consumer address, `host:port`. */
  peer: string;
  state: string;
  /** ms since the connection was accepted. */
  age: number;
  /** ms since bytes last arrived. */
  lastRead: number;
  /** ms since bytes were last written. */
  lastWrite: number;
  /** Ping interval granted to the consumer, in ms. */
  heartbeat: number;
  /** Calls executing for this connection. */
  inFlight: number;
  /** Bytes read from and written to the socket, frame headers included. */
  bytesIn: number;
  bytesOut: number;
  /** Calls answered (or, one-way, finished) on this connection, refusals included. */
  callsDone: number;
  /**
   * The last error a call on this connection was answered with (as its
   * caller hears it), or why the connection failed (protocol error, socket
   * error, idle or handshake timeout, refusal), whichever came last; absent
   * when none. Code and message only (never details, stack or arguments).
   */
  lastError?: { code: string; message: string };
  /** Over TLS: the negotiated version, and the consumer's certificate (`subject`, `authorized`) under mutual TLS; undefined over plain TCP. */
  tls: PeerTls | undefined;
  /** True when the server's `authenticate` accepted this consumer (its principal is not listed: it may be sensitive); false without `authenticate`, or before it answered. */
  authenticated: boolean;
}

/** What `server.connections()` and the `connect`/`disconnect` events report of `c`, now. */
export function describe(c: ServerConnection): ServerConnectionInfo {
  const t = now();
  const info: ServerConnectionInfo = {
    id: c.id,
    peer: c.peer,
    state: c.state,
    age: t - c.createdAt,
    lastRead: t - c.lastReadAt(),
    lastWrite: t - c.lastWriteAt(),
    heartbeat: c.heartbeatInterval,
    inFlight: c.inFlight,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    callsDone: c.callsDone,
    tls: c.tls,
    authenticated: c.authenticated,
  };
  if (c.lastErrorCode !== undefined) info.lastError = { code: c.lastErrorCode, message: c.lastErrorMessage };
  return info;
}
