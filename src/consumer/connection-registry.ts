import type { ClientConnection } from '../exchange/client-connection.js';
import type { DisconnectReason } from '../exchange/connection-state.js';
import { now } from '../transport/clock.js';
import type { ProviderAddress } from './address.js';
import type { Directory } from './directory.js';
import { Endpoint, EndpointState, type EndpointObserver, type EndpointOptions } from './endpoint.js';

/** A live connection as `client.connections()` reports it. */
export interface ConnectionInfo {
  /** Provider address, `host:port`. */
  address: string;
  /** Connection id, unique in this process. */
  id: number;
  /** Connection state: connecting, handshaking, ready, draining, closing (closed in a `disconnect` event). */
  state: string;
  /** Availability of the provider: idle, connecting, ready, draining, reconnecting, removed. */
  providerState: EndpointState;
  /** ms since the connection was opened. */
  age: number;
  /** ms since bytes last arrived. */
  lastRead: number;
  /** ms since bytes were last written. */
  lastWrite: number;
  /** Round-trip time of the last ping, in ms; undefined before the first pong. */
  rtt: number | undefined;
  /** Ping interval agreed with the provider, in ms; 0 for none. */
  heartbeat: number;
  /** Calls waiting for a response. */
  inFlight: number;
  /** Responses that arrived after their call timed out. */
  lateResponses: number;
  /** Callback functions registered on this connection (at most the client's `maxCallbacks`). */
  callbacks: number;
  /** Successful reconnects to this provider since the client started. */
  reconnects: number;
}

/** What the registry reports to the client (which turns it into events). */
export interface RegistryEvents {
  connect(info: ConnectionInfo): void;
  disconnect(info: ConnectionInfo, reason: DisconnectReason): void;
  reconnect(address: string, attempts: number): void;
}

export interface RegistryOptions extends EndpointOptions {
  /** Open a connection to every listed provider as soon as a reference is made. */
  eager: boolean;
  /** Close connections unused for this long, in ms; 0 never does. */
  idleTimeout: number;
}

/**
 * Owns every connection of one client. Connections belong to endpoints (one
 * per provider address), shared by all references that list that address.
 * Endpoints are created lazily and retired when no provider list names them
 * any longer. One timer here closes idle connections.
 */
export class ConnectionRegistry implements EndpointObserver {
  private readonly endpoints = new Map<string, Endpoint>();
  /** Endpoints no list names any longer, kept until their last connection has closed. */
  private readonly retiring = new Set<Endpoint>();
  /** How many tracked directories list each address. */
  private readonly wanted = new Map<string, number>();
  private readonly options: RegistryOptions;
  private readonly events: RegistryEvents;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Stops following each tracked directory. */
  private readonly untrackers = new Set<() => void>();

  constructor(options: RegistryOptions, events: RegistryEvents) {
    this.options = options;
    this.events = events;
    if (options.idleTimeout > 0) {
      this.idleTimer = setInterval(() => this.sweepIdle(), Math.max(100, options.idleTimeout / 2));
      this.idleTimer.unref();
    }
  }

  /** Calls pending across the client. */
  get pending(): number {
    return this.options.budget.pending;
  }

  /** The endpoint of `address`, created on first use. */
  endpoint(address: ProviderAddress): Endpoint {
    let ep = this.endpoints.get(address.key);
    if (ep === undefined) {
      ep = new Endpoint(address, this.options, this);
      this.endpoints.set(address.key, ep);
    }
    return ep;
  }

  /**
   * Follows a directory: its addresses are wanted while it is tracked, and an
   * endpoint no directory wants is retired (no more reconnects). Returns a
   * function that stops tracking.
   */
  track(directory: Directory): () => void {
    if (this.closed) return () => {};
    let current = new Set<string>();
    const apply = (): void => {
      const next = new Set(directory.list().map((p) => p.address.key));
      for (const key of next) if (!current.has(key)) this.wanted.set(key, (this.wanted.get(key) ?? 0) + 1);
      for (const key of current) if (!next.has(key)) this.unwant(key);
      current = next;
      if (this.options.eager) for (const p of directory.list()) this.endpoint(p.address).connect();
    };
    apply();
    const unsubscribe = directory.subscribe(apply);
    const untrack = (): void => {
      if (!this.untrackers.delete(untrack)) return;
      unsubscribe();
      for (const key of current) this.unwant(key);
      current = new Set();
    };
    this.untrackers.add(untrack);
    return untrack;
  }

  private unwant(key: string): void {
    const n = (this.wanted.get(key) ?? 0) - 1;
    if (n > 0) {
      this.wanted.set(key, n);
      return;
    }
    this.wanted.delete(key);
    const ep = this.endpoints.get(key);
    if (ep !== undefined) {
      this.endpoints.delete(key);
      if (ep.connections().length > 0) this.retiring.add(ep);
      ep.retire();
    }
  }

  /** Every endpoint that still has or may get connections. */
  private all(): Endpoint[] {
    return [...this.endpoints.values(), ...this.retiring];
  }

  /** Forgets `fn` on every connection. */
  releaseCallback(fn: Function): boolean {
    let found = false;
    for (const ep of this.all()) for (const c of ep.connections()) found = c.callbacks.release(fn) || found;
    return found;
  }

  /** Every live connection. */
  list(): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const ep of this.all()) for (const c of ep.connections()) out.push(describe(ep, c));
    return out;
  }

  onConnect(endpoint: Endpoint, conn: ClientConnection): void {
    this.events.connect(describe(endpoint, conn));
  }

  onDisconnect(endpoint: Endpoint, conn: ClientConnection, reason: DisconnectReason): void {
    if (this.retiring.has(endpoint) && endpoint.connections().length === 0) this.retiring.delete(endpoint);
    // Also for a connection that never became ready ('connect-failed', 'refused'), which had no `connect` event.
    this.events.disconnect(describe(endpoint, conn), reason);
  }

  onReconnect(endpoint: Endpoint, attempts: number): void {
    this.events.reconnect(endpoint.address.key, attempts);
  }

  private sweepIdle(): void {
    for (const ep of this.endpoints.values()) ep.closeIdle(this.options.idleTimeout);
  }

  /** Closes every connection; pending calls fail with CLIENT_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    const all = this.all();
    this.endpoints.clear();
    this.retiring.clear();
    const closing = Promise.all(all.map((ep) => ep.close()));
    // Stop following the provider lists only now, so nothing is retired (or reopened) on the way out.
    for (const untrack of [...this.untrackers]) untrack();
    await closing;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function describe(ep: Endpoint, c: ClientConnection): ConnectionInfo {
  const t = now();
  return {
    address: c.address,
    id: c.id,
    state: c.state,
    providerState: ep.state,
    age: t - c.createdAt,
    lastRead: t - c.lastReadAt(),
    lastWrite: t - c.lastWriteAt(),
    rtt: c.rtt,
    heartbeat: c.heartbeatInterval,
    inFlight: c.inFlight,
    lateResponses: c.lateResponses,
    callbacks: c.callbacks.size,
    reconnects: ep.reconnects,
  };
}
