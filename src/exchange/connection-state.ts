/** States of a connection. Every change goes through one `transition()` gate. */
export enum ConnectionState {
  /** TCP connect in progress. */
  Connecting = 'connecting',
  /** Socket open, handshake not answered yet. */
  Handshaking = 'handshaking',
  /** Handshake done; calls flow. */
  Ready = 'ready',
  /** The peer sent drain: calls in flight finish, no new ones start. */
  Draining = 'draining',
  /** Gone for good. */
  Closed = 'closed',
}

const ALLOWED: Record<ConnectionState, readonly ConnectionState[]> = {
  [ConnectionState.Connecting]: [ConnectionState.Handshaking, ConnectionState.Closed],
  [ConnectionState.Handshaking]: [ConnectionState.Ready, ConnectionState.Closed],
  [ConnectionState.Ready]: [ConnectionState.Draining, ConnectionState.Closed],
  [ConnectionState.Draining]: [ConnectionState.Closed],
  [ConnectionState.Closed]: [],
};

/** True when `from -> to` is a legal step. */
export function canTransition(from: ConnectionState, to: ConnectionState): boolean {
  return ALLOWED[from].includes(to);
}
