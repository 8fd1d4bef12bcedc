import { HeartlineError } from '../errors/heartline-error.js';
import type { ClientConnection } from '../exchange/client-connection.js';
import type { DisconnectReason } from '../exchange/connection-state.js';
import { now } from '../transport/clock.js';
import { callGuarded } from '../transport/guarded.js';
import type { ProviderAddress } from './address.js';
import { isDirectory, StaticDirectory, toProviderInfo, type Directory, type ProviderEntry } from './directory.js';
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
  /** Bytes read from and written to the socket, frame headers included. */
  bytesIn: number;
  bytesOut: number;
  /** Calls settled on this connection: answered, failed, timed out or cancelled; one-way calls once written. */
  callsDone: number;
  /**
   * The last error a call on this connection settled with, or why the
   * connection failed (connect, refusal, heartbeat, socket, protocol),
   * whichever came last; absent when none. The error's code and message only
   * (never its details, cause or the call's arguments and attachments).
   */
  lastError?: { code: string; message: string };
}

/** Told when the client closes (`watchClose`). */
export interface CloseWatcher {
  onClientClose(): void;
}

/** What the registry reports to the client (which turns it into events). */
export interface RegistryEvents {
  connect(info: ConnectionInfo): void;
  disconnect(info: ConnectionInfo, reason: DisconnectReason): void;
  reconnect(address: string, attempts: number): void;
  /** A pong measured `rtt` ms on connection `connectionId` (only while `heartline:client:heartbeat` has subscribers). */
  pong(address: string, connectionId: number, rtt: number): void;
}

export interface RegistryOptions extends EndpointOptions {
  /** Open a connection to every listed provider as soon as a reference is made. */
  eager: boolean;
  /** Close connections unused for this long, in ms; 0 never does. */
  idleTimeout: number;
}

/**
 * How long an endpoint stays open after the last reference naming it was
 * garbage-collected, in ms: a `refer()` per request must not reopen
 * connections between requests. Explicit removals (`client.release(stub)`, a
 * directory update) retire at once.
 */
export const UNREFERENCED_LINGER_MS = 30_000;

/**
 * Disconnects that say an address may no longer hold a provider: reported to
 * the directories that list it (`Directory.reportFailure`). Not the closes
 * this client made, a drain (the reconnect after it fails if the provider is
 * gone) or a refusal (the provider is there, at its cap).
 */
const ADDRESS_FAILURES: ReadonlySet<DisconnectReason> = new Set<DisconnectReason>(['connect-failed', 'closed-by-peer', 'heartbeat-timeout', 'socket-error', 'protocol-error']);

/** One followed provider list: a Directory, or an inline array (interned by its content). */
interface Tracking {
  readonly directory: Directory;
  /** The key in `directories` or `inline`. */
  readonly key: Directory | string;
  /** Holds taken on it; it is unfollowed when they drop to 0. */
  holds: number;
  /** Address keys it lists now. */
  current: Set<string>;
  unsubscribe: () => void;
}

/**
 * A reference's claim on a provider list: the list is followed (and its
 * providers kept) while some hold on it is live. A hold is released by
 * `release()` or when its owner (the reference) is garbage-collected.
 */
export class ProviderListHold {
  /** @internal undefined once released. */
  tracking: Tracking | undefined;

  constructor(
    private readonly registry: ConnectionRegistry,
    tracking: Tracking | undefined,
    readonly directory: Directory,
  ) {
    this.tracking = tracking;
  }

  /** Stops following the list for this holder; providers no other list names are retired at once. Idempotent. */
  release(): void {
    this.registry.drop(this, false);
  }
}

/**
 * Owns every connection of one client. Connections belong to endpoints (one
 * per provider address), shared by all references that list that address.
 * Endpoints are created lazily and retired when no provider list names them
 * any longer. Each distinct provider list is followed once, ref-counted by the
 * references holding it, so `refer()` per request leaks nothing: a reference
 * that is garbage-collected drops its hold (FinalizationRegistry). One timer
 * here closes idle connections.
 *
 * ```
 *  refer() --hold--> Tracking (one per Directory / inline list) --wants--> address --> Endpoint
 *  release() or GC --drop--> holds 0: unsubscribe, unwant --> retire (GC: after UNREFERENCED_LINGER_MS)
 * ```
 */
export class ConnectionRegistry implements EndpointObserver {
  private readonly endpoints = new Map<string, Endpoint>();
  /** Endpoints no list names any longer, kept until their last connection has closed. */
  private readonly retiring = new Set<Endpoint>();
  /** How many followed lists name each address. */
  private readonly wanted = new Map<string, number>();
  /** Followed Directories. */
  private readonly directories = new Map<Directory, Tracking>();
  /** Followed inline provider arrays, by content. */
  private readonly inline = new Map<string, Tracking>();
  /** Addresses no list names since their last reference was collected: retired at this time (clock ms) unless wanted again. */
  private readonly lingering = new Map<string, number>();
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Drops the hold of a reference that was garbage-collected. */
  private readonly finalizer = new FinalizationRegistry<ProviderListHold>((hold) => this.drop(hold, true));
  private readonly options: RegistryOptions;
  private readonly events: RegistryEvents;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Calls waiting for a registry's first list: they stop waiting when `close()` begins. */
  private readonly closeWatchers = new Set<CloseWatcher>();

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

  /** Calls waiting for an `actives` or `serviceActives` slot, across every provider. */
  get waiting(): number {
    let n = 0;
    for (const ep of this.all()) n += ep.waiting;
    return n;
  }

  /** Provider lists followed now (each distinct Directory or inline list once). */
  get followedLists(): number {
    return this.directories.size + this.inline.size;
  }

  /** The endpoint of `address`, created on first use. */
  endpoint(address: ProviderAddress): Endpoint {
    let ep = this.endpoints.get(address.key);
    if (ep === undefined) {
      // Callers check isClosed first; a closed registry must never open a connection again.
      if (this.closed) throw new HeartlineError('CLIENT_CLOSED', 'the client is closed');
      ep = new Endpoint(address, this.options, this);
      this.endpoints.set(address.key, ep);
    }
    return ep;
  }

  /**
   * Holds a provider list (a Directory, or an inline array of validated
   * entries, interned by content): its addresses are wanted while some hold
   * on it is live. With an `owner`, the hold is dropped when the owner is
   * garbage-collected; the owner must not be reachable from the hold.
   */
  hold(source: Directory | readonly ProviderEntry[], owner?: object): ProviderListHold {
    const inlineKey = isDirectory(source) ? undefined : source.map(toProviderInfo).map((p) => `${p.address.key}*${p.weight}`).join(',');
    const known = inlineKey === undefined ? this.directories.get(source as Directory) : this.inline.get(inlineKey);
    const directory = known?.directory ?? (inlineKey === undefined ? (source as Directory) : new StaticDirectory(source as readonly ProviderEntry[]));
    if (this.closed) return new ProviderListHold(this, undefined, directory);
    const tracking = known ?? this.follow(directory, inlineKey ?? directory);
    tracking.holds++;
    if (this.options.eager) for (const p of directory.list()) this.endpoint(p.address).connect();
    const hold = new ProviderListHold(this, tracking, directory);
    if (owner !== undefined) this.finalizer.register(owner, hold, hold);
    return hold;
  }

  /** @internal Drops a hold (explicitly, or `lapsed` when its owner was collected). */
  drop(hold: ProviderListHold, lapsed: boolean): void {
    const t = hold.tracking;
    if (t === undefined) return;
    hold.tracking = undefined;
    if (!lapsed) this.finalizer.unregister(hold);
    if (this.closed || --t.holds > 0) return;
    t.unsubscribe();
    if (typeof t.key === 'string') this.inline.delete(t.key);
    else this.directories.delete(t.key);
    for (const key of t.current) this.unwant(key, lapsed);
    t.current = new Set();
  }

  /** Starts following `directory`: its addresses are wanted, and its changes applied. */
  private follow(directory: Directory, key: Directory | string): Tracking {
    const t: Tracking = { directory, key, holds: 0, current: new Set(), unsubscribe: () => {} };
    const apply = (): void => {
      const next = new Set(directory.list().map((p) => p.address.key));
      for (const k of next) if (!t.current.has(k)) this.want(k);
      for (const k of t.current) if (!next.has(k)) this.unwant(k, false);
      t.current = next;
      if (this.options.eager) for (const p of directory.list()) this.endpoint(p.address).connect();
    };
    apply();
    t.unsubscribe = directory.subscribe(apply);
    if (typeof key === 'string') this.inline.set(key, t);
    else this.directories.set(key, t);
    return t;
  }

  private want(key: string): void {
    this.wanted.set(key, (this.wanted.get(key) ?? 0) + 1);
    this.lingering.delete(key);
  }

  /** One list fewer names `key`; when none does, its endpoint is retired (after a linger when `linger`). */
  private unwant(key: string, linger: boolean): void {
    const n = (this.wanted.get(key) ?? 0) - 1;
    if (n > 0) {
      this.wanted.set(key, n);
      return;
    }
    this.wanted.delete(key);
    const ep = this.endpoints.get(key);
    if (ep === undefined) return;
    if (linger && ep.connections().length > 0) {
      this.lingering.set(key, now() + UNREFERENCED_LINGER_MS);
      if (this.lingerTimer === undefined) {
        this.lingerTimer = setInterval(() => this.sweepLingering(), UNREFERENCED_LINGER_MS / 4);
        this.lingerTimer.unref();
      }
      return;
    }
    this.retire(key, ep);
  }

  private retire(key: string, ep: Endpoint): void {
    this.lingering.delete(key);
    this.endpoints.delete(key);
    if (ep.connections().length > 0) this.retiring.add(ep);
    ep.retire();
  }

  private sweepLingering(): void {
    const t = now();
    for (const [key, at] of this.lingering) {
      if (t < at) continue;
      this.lingering.delete(key);
      const ep = this.endpoints.get(key);
      if (ep !== undefined && !this.wanted.has(key)) this.retire(key, ep);
    }
    if (this.lingering.size === 0) {
      clearInterval(this.lingerTimer);
      this.lingerTimer = undefined;
    }
  }

  /** Every endpoint that still has or may get connections. */
  private all(): Endpoint[] {
    return [...this.endpoints.values(), ...this.retiring];
  }

  /**
   * Pings the provider at `address` (`Endpoint.ping`). The address is wanted
   * while the ping runs; after it, like an address whose last reference was
   * collected, its connection lingers (UNREFERENCED_LINGER_MS) for the next
   * ping or call, unless a provider list still names it.
   */
  async ping(address: ProviderAddress, timeout: number): Promise<number> {
    if (this.closed) throw new HeartlineError('CLIENT_CLOSED', 'the client is closed');
    const hold = this.hold([address.key]);
    try {
      return await this.endpoint(address).ping(timeout);
    } finally {
      this.drop(hold, true);
    }
  }

  /** Forgets `fn` on every connection. */
  releaseCallback(fn: Function): boolean {
    let found = false;
    for (const ep of this.all()) for (const c of ep.connections()) found = c.releaseCallback(fn) || found;
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
    if (ADDRESS_FAILURES.has(reason)) this.reportFailure(endpoint.address);
  }

  /** Tells the followed directories that list `address` (and can look again) that it failed. */
  private reportFailure(address: ProviderAddress): void {
    for (const t of this.directories.values()) {
      const directory = t.directory;
      if (typeof directory.reportFailure !== 'function' || !t.current.has(address.key)) continue;
      callGuarded(this.options.connection.logger, 'a Directory reportFailure', directory.reportFailure, directory, [address]);
    }
  }

  onReconnect(endpoint: Endpoint, attempts: number): void {
    this.events.reconnect(endpoint.address.key, attempts);
  }

  onPong(conn: ClientConnection, rtt: number): void {
    this.events.pong(conn.address, conn.id, rtt);
  }

  private sweepIdle(): void {
    for (const ep of this.endpoints.values()) ep.closeIdle(this.options.idleTimeout);
  }

  /** Closes every connection; pending calls fail with CLIENT_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    const watchers = [...this.closeWatchers];
    this.closeWatchers.clear();
    for (const w of watchers) w.onClientClose();
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    clearInterval(this.lingerTimer);
    this.lingerTimer = undefined;
    const all = this.all();
    this.endpoints.clear();
    this.retiring.clear();
    const closing = Promise.all(all.map((ep) => ep.close()));
    // Stop following the provider lists only now, so nothing is retired (or reopened) on the way out.
    for (const t of [...this.directories.values(), ...this.inline.values()]) t.unsubscribe();
    this.directories.clear();
    this.inline.clear();
    this.wanted.clear();
    this.lingering.clear();
    await closing;
  }

  /**
   * Calls `watcher.onClientClose()` once when `close()` begins, unless
   * unwatched first; at once when the registry is closed already. A set, not
   * a promise: a watcher that leaves is forgotten (a reaction on a promise
   * would stay until it settles).
   */
  watchClose(watcher: CloseWatcher): void {
    if (this.closed) watcher.onClientClose();
    else this.closeWatchers.add(watcher);
  }

  unwatchClose(watcher: CloseWatcher): void {
    this.closeWatchers.delete(watcher);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

function describe(ep: Endpoint, c: ClientConnection): ConnectionInfo {
  const t = now();
  const info: ConnectionInfo = {
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
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    callsDone: c.callsDone,
  };
  if (c.lastErrorCode !== undefined) info.lastError = { code: c.lastErrorCode, message: c.lastErrorMessage };
  return info;
}
