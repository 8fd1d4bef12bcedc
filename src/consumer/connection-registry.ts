import type { HeartlineError } from '../errors/heartline-error.js';
import { ClientConnection, type ClientConnectionOptions, type ConnectionObserver } from '../exchange/client-connection.js';
import { ConnectionState } from '../exchange/connection-state.js';
import type { ProviderAddress } from './address.js';

/** A live connection as `client.connections()` reports it. */
export interface ConnectionInfo {
  address: string;
  state: ConnectionState;
  /** ms since the connection was opened. */
  age: number;
  inFlight: number;
  lateResponses: number;
}

type SharedOptions = Omit<ClientConnectionOptions, 'host' | 'port'>;

/**
 * Owns every connection of one client, keyed by provider address and shared by
 * all references to that address. Connections are opened lazily, on the first
 * call; one that closes or drains is forgotten, so the next call opens a new one.
 */
export class ConnectionRegistry implements ConnectionObserver {
  private readonly connections = new Map<string, ClientConnection>();
  private readonly retired = new Set<ClientConnection>();
  private readonly options: SharedOptions;

  constructor(options: SharedOptions) {
    this.options = options;
  }

  /** The connection to `address`, opening it if there is none. */
  get(address: ProviderAddress): ClientConnection {
    let conn = this.connections.get(address.key);
    if (conn === undefined) {
      conn = new ClientConnection({ ...this.options, host: address.host, port: address.port }, this);
      this.connections.set(address.key, conn);
    }
    return conn;
  }

  /** Number of open (not yet closed) connections, draining ones included. */
  get size(): number {
    return this.connections.size + this.retired.size;
  }

  list(): ConnectionInfo[] {
    const now = Date.now();
    return [...this.connections.values(), ...this.retired].map((c) => ({
      address: c.address,
      state: c.state,
      age: now - c.createdAt,
      inFlight: c.inFlight,
      lateResponses: c.lateResponses,
    }));
  }

  onStateChange(conn: ClientConnection, _from: ConnectionState, to: ConnectionState, _reason?: HeartlineError): void {
    if (to === ConnectionState.Draining || to === ConnectionState.Closed) {
      if (this.connections.get(conn.address) === conn) this.connections.delete(conn.address);
      if (to === ConnectionState.Draining) this.retired.add(conn);
      else this.retired.delete(conn);
    }
  }

  /** Closes every connection; pending calls fail with CLIENT_CLOSED. */
  async close(): Promise<void> {
    const all = [...this.connections.values(), ...this.retired];
    await Promise.all(all.map((c) => c.close()));
  }
}
