/** States of a connection. Every change goes through one `transition()` gate. */
export enum ConnectionState {
  /** TCP connect in progress. */
  Connecting = 'connecting',
  /** Socket open, handshake not answered yet. */
  Handshaking = 'handshaking',
  /**
   * (Provider only.) The consumer's handshake request was read and the
   * server's `authenticate` is deciding; any frame from the consumer now is a
   * protocol error. Still counts as a handshake in progress.
   */
  Authenticating = 'authenticating',
  /** Handshake done; calls flow. */
  Ready = 'ready',
  /** The peer sent drain (or the provider left the list): calls in flight finish, no new ones start. */
  Draining = 'draining',
  /** A close has begun (its reason is known); the socket has not reported it closed yet. No call starts. */
  Closing = 'closing',
  /** Gone for good. */
  Closed = 'closed',
}

const S = ConnectionState;
/**
 * The legal steps. Every open state may go to Closing (a close begins) or
 * straight to Closed; Closing only goes on to Closed.
 *
 * ```
 *   Connecting -> Handshaking -> Ready -> Draining
 *        \______________\__________\________\____> Closing -> Closed
 *                          \
 *                           `-> Authenticating -> Ready (provider, with `authenticate`)
 * ```
 */
const ALLOWED: Record<ConnectionState, readonly ConnectionState[]> = {
  [S.Connecting]: [S.Handshaking, S.Closing, S.Closed],
  [S.Handshaking]: [S.Authenticating, S.Ready, S.Closing, S.Closed],
  [S.Authenticating]: [S.Ready, S.Closing, S.Closed],
  [S.Ready]: [S.Draining, S.Closing, S.Closed],
  [S.Draining]: [S.Closing, S.Closed],
  [S.Closing]: [S.Closed],
  [S.Closed]: [],
};

/** True when `from -> to` is a legal step. */
export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return ALLOWED[from].includes(to);
}

/** Why a connection closed, as reported in `disconnect` events. */
export type DisconnectReason =
  /** The peer closed the socket. */
  | 'closed-by-peer'
  /** Nothing arrived for `heartbeat × heartbeatMisses` (or the provider's idle timeout). */
  | 'heartbeat-timeout'
  /** The peer broke the protocol. */
  | 'protocol-error'
  /** The provider sent drain and the calls in flight settled. */
  | 'drain'
  /** Closed by `client.close()` / `server.close()`. */
  | 'client-closed'
  /** Unused for longer than the idle time. */
  | 'idle'
  /** The connection or its handshake did not complete. */
  | 'connect-failed'
  /** The provider refused the handshake (for example, its `accepts` limit). */
  | 'refused'
  /**
   * The handshake failed for credentials: the provider's `authenticate`
   * refused them (UNAUTHENTICATED), or the consumer's `credentials` function
   * failed.
   */
  | 'unauthenticated'
  /** The credentials' `expiresAt` passed: the provider drained the connection, and the consumer uses a new one. */
  | 'credentials-expired'
  /** A socket error (reset, broken pipe). */
  | 'socket-error'
  /** The provider is no longer in the provider list. */
  | 'removed'
  /** The consumer did not complete its handshake within the provider's `handshakeTimeout`. */
  | 'handshake-timeout'
  /**
   * The peer sent pings faster than the rate limit allows (PING_BURST at once,
   * then one per half agreed heartbeat; protocol.md 4.4): a flood, so we closed.
   */
  | 'too-many-pings';
