import { channels } from '../context/channels.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { ClientConnection, type ClientConnectionOptions, type ConnectionObserver } from '../exchange/client-connection.js';
import { cancelledError, type CallSink, type ConnectionCall, type OutgoingCall } from '../exchange/connection-call.js';
import { ConnectionState, type DisconnectReason } from '../exchange/connection-state.js';
import { withOrigin } from '../exchange/pending-calls.js';
import { now } from '../transport/clock.js';
import { ActiveCounter } from './active-limiter.js';
import type { ProviderAddress } from './address.js';
import { Attempt, encodeError, type PreparedCall, type SlotOwner } from './attempt.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';

/** Availability of one provider, as the consumer sees it. */
export enum EndpointState {
  /** No connection yet (lazy) or all closed for being idle; the next call opens one. */
  Idle = 'idle',
  /** The first connection is being opened. */
  Connecting = 'connecting',
  /** At least one connection is ready. */
  Ready = 'ready',
  /** The provider sent drain: no new calls until it comes back. */
  Draining = 'draining',
  /** Connections were lost; reconnecting in the background with backoff. */
  Reconnecting = 'reconnecting',
  /** No longer in any provider list, or the client closed. */
  Removed = 'removed',
}

const E = EndpointState;
/** The legal steps of an endpoint's state; `transition()` refuses any other. */
const ALLOWED: Record<EndpointState, readonly EndpointState[]> = {
  [E.Idle]: [E.Connecting, E.Removed],
  [E.Connecting]: [E.Ready, E.Draining, E.Reconnecting, E.Removed],
  [E.Ready]: [E.Draining, E.Reconnecting, E.Idle, E.Removed],
  [E.Draining]: [E.Reconnecting, E.Removed],
  [E.Reconnecting]: [E.Ready, E.Reconnecting, E.Removed],
  [E.Removed]: [],
};

/** What an endpoint reports to the registry. */
export interface EndpointObserver {
  onConnect(endpoint: Endpoint, conn: ClientConnection): void;
  /** A connection closed, whether or not it ever finished its handshake (`conn.readyAt`). */
  onDisconnect(endpoint: Endpoint, conn: ClientConnection, reason: DisconnectReason): void;
  onReconnect(endpoint: Endpoint, attempts: number): void;
  /** A pong came back on `conn` after `rtt` ms (only while `heartline:client:heartbeat` has subscribers). */
  onPong(conn: ClientConnection, rtt: number): void;
}

/** Client-wide settings an endpoint reads. */
export interface EndpointOptions {
  connection: Omit<ClientConnectionOptions, 'host' | 'port'>;
  /** Connections per provider (`connections`). */
  maxConnections: number;
  backoff: Required<BackoffOptions>;
  random: () => number;
  /** Calls in flight across the client, and their bound. Shared by all endpoints. */
  budget: { pending: number; max: number };
}

/**
 * One provider address: up to `maxConnections` connections to it, its active
 * call counts, and its availability. When its last connection is lost it
 * reconnects in the background with backoff, for as long as some provider list
 * still names it.
 *
 * ```
 *   Idle -> Connecting -> Ready <-> Reconnecting        any -> Removed
 *                          |  ^          ^
 *                          v  |          |
 *                        Draining -------'   (the provider restarts)
 * ```
 */
export class Endpoint implements ConnectionObserver, SlotOwner {
  readonly address: ProviderAddress;
  private stateValue = EndpointState.Idle;
  private readonly options: EndpointOptions;
  private readonly observer: EndpointObserver;
  private conns: ClientConnection[] = [];
  private readonly counters = new Map<string, ActiveCounter>();
  private retryTimer: NodeJS.Timeout | undefined;
  /** Failed reconnect attempts in a row. */
  private attempt = 0;
  /** Successful reconnects since creation. */
  reconnects = 0;
  /**
   * Why the provider was last found unreachable (the failure of the last
   * connection that closed on its own), until a connection is ready again:
   * the cause of the UNAVAILABLE a call gets meanwhile.
   */
  lastFailure: HeartlineError | undefined;
  /** No extra connection is opened before this time (clock ms): the provider refused one. */
  private growBlockedUntil = 0;
  /** Calls already sent again after crossing an expiry drain (`resendRefused`): once each, so a provider that keeps refusing cannot loop them. */
  private readonly resent = new WeakSet<PreparedCall>();

  constructor(address: ProviderAddress, options: EndpointOptions, observer: EndpointObserver) {
    this.address = address;
    this.options = options;
    this.observer = observer;
  }

  get state(): EndpointState {
    return this.stateValue;
  }

  /** True when new calls may be sent here. */
  get available(): boolean {
    const s = this.stateValue;
    return s === EndpointState.Ready || s === EndpointState.Idle || s === EndpointState.Connecting;
  }

  /** Active calls of one method here (always counted; `leastactive` reads it). */
  activeFor(methodKey: string): number {
    return this.counters.get(methodKey)?.active ?? 0;
  }

  connections(): readonly ClientConnection[] {
    return this.conns;
  }

  /** Calls waiting here for an `actives` or `serviceActives` slot (a scan of the counters: for scrapes, not per call). */
  get waiting(): number {
    let n = 0;
    for (const c of this.counters.values()) n += c.waiting;
    return n;
  }

  /** Opens the first connection now (eager mode). */
  connect(): void {
    if (this.conns.length === 0 && (this.stateValue === EndpointState.Idle)) this.open();
  }

  /**
   * Pings the provider on one of its connections (a ready one, else one being
   * opened, else a new one) and resolves with the round-trip time in ms
   * (`ClientConnection.ping`). UNAVAILABLE while the provider is draining,
   * reconnecting or removed.
   */
  ping(timeout: number): Promise<number> {
    let conn: ClientConnection | undefined;
    if (this.available) {
      for (const c of this.conns) {
        if (c.isClosing) continue;
        if (c.state === ConnectionState.Ready) {
          conn = c;
          break;
        }
        if (c.usable) conn ??= c;
      }
      if (conn === undefined && this.conns.length === 0) conn = this.open();
    }
    if (conn === undefined) return Promise.reject(new HeartlineError('UNAVAILABLE', `ping: provider ${this.address.key} is ${this.stateValue}`));
    return conn.ping(timeout);
  }

  /**
   * Sends one attempt of `prepared` here, to give up at `deadline` (clock
   * ms): admitted against the client's `maxPendingCalls`, then an active slot
   * of the method (and service) taken, waiting while a cap is full (within
   * the deadline; the call's signal ends the wait with CANCELLED). `at` is
   * now (clock ms), read by the caller in the same synchronous run.
   */
  invoke(prepared: PreparedCall, deadline: number, at: number): Promise<unknown> {
    return new Promise((resolve, reject) => this.dispatch(prepared, deadline, at, { resolve, reject }));
  }

  /**
   * `invoke`, its outcome delivered to `sink` (at most once, maybe before
   * this returns) rather than to a promise of its own: the cluster stage's
   * one promise per call. Never throws.
   */
  dispatch(prepared: PreparedCall, deadline: number, at: number, sink: CallSink): void {
    const inv = prepared.invocation;
    const t = inv.target;
    const budget = this.options.budget;
    if (budget.pending >= budget.max) {
      sink.reject(withOrigin(new HeartlineError('LIMIT_EXCEEDED', `${t.label}: ${budget.max} calls are already pending in this client (maxPendingCalls)`), inv.origin));
      return;
    }
    // Admitted calls count against the bound from here on, including while they wait for a slot.
    budget.pending++;
    const mc = this.counter(t.label);
    const sc = t.serviceActives === Infinity ? undefined : this.counter(t.service);
    if (mc.tryAcquire(t.actives) && (sc === undefined || sc.tryAcquire(t.serviceActives) || this.undo(mc))) {
      this.send(prepared, deadline, mc, sc, at, sink);
      return;
    }
    this.acquireSlowly(prepared, deadline, mc, sc, sink).catch((err: HeartlineError) => sink.reject(err));
  }

  private undo(mc: ActiveCounter): false {
    mc.release();
    return false;
  }

  private async acquireSlowly(prepared: PreparedCall, deadline: number, mc: ActiveCounter, sc: ActiveCounter | undefined, sink: CallSink): Promise<void> {
    const inv = prepared.invocation;
    const t = inv.target;
    const cancelled = (): HeartlineError => cancelledError(t.label, inv.signal);
    try {
      if (!mc.tryAcquire(t.actives)) await mc.wait(t.actives, msLeft(deadline), t.label, inv.signal, cancelled);
    } catch (err) {
      this.options.budget.pending--;
      throw withOrigin(err as HeartlineError, inv.origin);
    }
    if (sc !== undefined && !sc.tryAcquire(t.serviceActives)) {
      try {
        await sc.wait(t.serviceActives, msLeft(deadline), t.label, inv.signal, cancelled);
      } catch (err) {
        this.release(mc, undefined);
        throw withOrigin(err as HeartlineError, inv.origin);
      }
    }
    const at = now();
    if (deadline - at < 1) {
      // The slot came as the time ran out: sending now would only turn into a TIMEOUT after a useless run.
      this.release(mc, sc);
      throw withOrigin(new HeartlineError('LIMIT_EXCEEDED', `${t.label}: no active slot (actives ${t.actives}) was free before its deadline`), inv.origin);
    }
    this.send(prepared, deadline, mc, sc, at, sink);
  }

  /** Hands the attempt, encoded for it, to the least busy connection. */
  private send(prepared: PreparedCall, deadline: number, mc: ActiveCounter, sc: ActiveCounter | undefined, at: number, sink: CallSink): void {
    const inv = prepared.invocation;
    // The signal may have fired since the cluster checked it (user code ran between: a balancer's hashKey, a slot's wait).
    if (inv.signal?.aborted === true) {
      this.release(mc, sc);
      sink.reject(withOrigin(cancelledError(inv.target.label, inv.signal), inv.origin));
      return;
    }
    const conn = this.available ? this.pickConnection() : undefined;
    if (conn === undefined) {
      this.release(mc, sc);
      sink.reject(withOrigin(new HeartlineError('UNAVAILABLE', `${inv.target.label}: provider ${this.address.key} is ${this.stateValue}`), inv.origin));
      return;
    }
    let attempt: Attempt;
    try {
      attempt = new Attempt(prepared, conn, deadline, this, mc, sc, at);
    } catch (err) {
      this.release(mc, sc);
      sink.reject(withOrigin(encodeError(inv.target.label, err), inv.origin));
      return;
    }
    try {
      conn.send(attempt, at, sink);
    } catch (err) {
      // Not expected (the connection settles every failure through the sink); a sink settles once, so this cannot settle twice.
      sink.reject(err as HeartlineError);
    }
  }

  /** @internal A call admitted here settled, or was not sent after all: free its slots. */
  release(mc: ActiveCounter, sc: ActiveCounter | undefined): void {
    mc.release();
    sc?.release();
    this.options.budget.pending--;
  }

  private counter(key: string): ActiveCounter {
    let c = this.counters.get(key);
    if (c === undefined) {
      c = new ActiveCounter();
      this.counters.set(key, c);
    }
    return c;
  }

  /**
   * The usable connection with the fewest calls in flight, opening another
   * while under `maxConnections` (the pool grows only while its connections
   * are busy). Never opens one while a connection that did not become ready
   * is failing: the endpoint decides what follows once it has closed.
   */
  private pickConnection(): ClientConnection | undefined {
    let best: ClientConnection | undefined;
    let open = 0;
    let failing = false;
    for (const c of this.conns) {
      if (c.isClosing) {
        // A closing connection takes no calls; one closing after it was ready (idle) does not count against the cap.
        if (c.readyAt === undefined) failing = true;
        continue;
      }
      // Draining alone (its credentials expired: the endpoint itself is not draining): it takes no calls, and its replacement may open.
      if (c.state === ConnectionState.Draining) continue;
      open++;
      if (c.usable && (best === undefined || c.inFlight < best.inFlight)) best = c;
    }
    if (!failing && (best === undefined || best.inFlight > 0) && open < this.options.maxConnections && (best === undefined || now() >= this.growBlockedUntil)) {
      return this.open();
    }
    return best;
  }

  /**
   * A connection failed before its handshake: send its unwritten calls on
   * another connection (a ready one, else one still opening), encoded again
   * for that connection (callback ids belong to the connection a call is
   * written on). False when there is none: the calls fail where they are.
   */
  adoptUnsent(conn: ClientConnection, calls: ConnectionCall[]): boolean {
    let other: ClientConnection | undefined;
    for (const c of this.conns) {
      if (c === conn || !c.usable) continue;
      if (other === undefined || (c.state === ConnectionState.Ready && other.state !== ConnectionState.Ready)) other = c;
    }
    if (other === undefined) return false;
    for (const call of calls) {
      const request = call.request;
      let moved: OutgoingCall;
      try {
        moved = request.moveTo(other);
      } catch (err) {
        request.onSettle?.(request);
        call.reject(withOrigin(encodeError(request.label, err), request.origin));
        continue;
      }
      try {
        other.send(moved, now(), call.sink); // its outcome there settles it, uncounted here
      } catch (err) {
        call.sink.reject(err as HeartlineError); // not expected: the connection settles every failure through the sink
      }
    }
    return true;
  }

  /**
   * A call crossed its connection's expiry drain and was refused as draining
   * (UNAVAILABLE, nothing ran): the provider still serves, so the call is
   * sent again here, once, on another connection (a new one, with fresh
   * credentials, if none is usable), admitted again within its deadline.
   */
  resendRefused(_conn: ClientConnection, call: ConnectionCall): boolean {
    const attempt = call.request;
    if (!(attempt instanceof Attempt) || this.resent.has(attempt.prepared)) return false;
    this.resent.add(attempt.prepared);
    this.dispatch(attempt.prepared, attempt.deadline, now(), call.sink);
    return true;
  }

  private open(): ClientConnection {
    const conn = new ClientConnection({ ...this.options.connection, host: this.address.host, port: this.address.port }, this);
    this.conns.push(conn);
    if (this.stateValue === EndpointState.Idle) this.transition(EndpointState.Connecting);
    return conn;
  }

  onStateChange(conn: ClientConnection, _from: ConnectionState, to: ConnectionState): void {
    switch (to) {
      case ConnectionState.Ready:
        this.connectionReady(conn);
        return;
      case ConnectionState.Draining:
        // Only this connection's credentials expired: the provider still serves, the next call opens a new connection.
        if (conn.disconnectReason === 'credentials-expired') return;
        // The provider is shutting down: all of its connections will drain (refused once Removed).
        this.transition(EndpointState.Draining);
        return;
      case ConnectionState.Closing:
        this.connectionClosing(conn);
        return;
      case ConnectionState.Closed:
        this.connectionClosed(conn);
        return;
      default:
        return;
    }
  }

  onPong(conn: ClientConnection, rtt: number): void {
    if (channels.clientHeartbeat.hasSubscribers) this.observer.onPong(conn, rtt);
  }

  private connectionReady(conn: ClientConnection): void {
    const wasDown = this.stateValue === EndpointState.Reconnecting;
    const attempts = this.attempt + 1;
    this.transition(EndpointState.Ready); // refused while Removed or Draining: they stay
    this.attempt = 0;
    this.lastFailure = undefined;
    if (wasDown) this.reconnects++;
    this.observer.onConnect(this, conn);
    if (wasDown) this.observer.onReconnect(this, attempts);
  }

  /**
   * A connection began to close. When it failed (whether or not it was ever
   * ready) and no other connection here is ready or opening, the provider is
   * unreachable: mark it `reconnecting` now, so that no call made before the
   * socket has closed comes here or opens another connection.
   */
  private connectionClosing(conn: ClientConnection): void {
    const reason = conn.disconnectReason;
    if (this.stateValue === EndpointState.Removed || this.stateValue === EndpointState.Draining) return;
    if (reason === 'idle' || reason === 'client-closed' || reason === 'removed' || reason === 'drain' || reason === 'credentials-expired') return;
    const neverReady = conn.readyAt === undefined;
    if (neverReady && (reason === 'refused' || reason === 'unauthenticated')) this.growBlockedUntil = now() + this.options.backoff.maxDelay;
    if (this.conns.some((c) => c !== conn && c.usable)) return; // another one carries on (and may adopt its calls)
    if (neverReady && this.stateValue === EndpointState.Reconnecting) this.attempt++;
    this.transition(EndpointState.Reconnecting);
  }

  /** A connection is gone: report it; the last one to close decides what the endpoint does next. */
  private connectionClosed(conn: ClientConnection): void {
    this.conns = this.conns.filter((c) => c !== conn);
    const reason = conn.disconnectReason ?? 'closed-by-peer';
    if (conn.failure !== undefined) this.lastFailure = conn.failure;
    this.observer.onDisconnect(this, conn, reason);
    if (this.stateValue === EndpointState.Removed || reason === 'client-closed') return;
    if (this.conns.length > 0) return; // others are ready, opening, draining or closing
    // Idle only from Ready: if another connection failed meanwhile, the endpoint is reconnecting.
    // After an expiry drain too: nothing is wrong with the provider, and the next call opens a connection with fresh credentials.
    if ((reason === 'idle' || reason === 'credentials-expired') && this.transition(EndpointState.Idle)) return;
    if (this.transition(EndpointState.Reconnecting)) this.scheduleReconnect();
  }

  /** The one gate for state changes: checks the step against ALLOWED. */
  private transition(to: EndpointState): boolean {
    if (!ALLOWED[this.stateValue].includes(to)) return false;
    this.stateValue = to;
    return true;
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt, this.options.backoff, this.options.random);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stateValue === EndpointState.Reconnecting && this.conns.length === 0) this.open();
    }, delay);
    this.retryTimer.unref();
  }

  /** The provider left every provider list: stop reconnecting, let calls in flight finish, then close. */
  retire(): void {
    this.transition(EndpointState.Removed);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const c of [...this.conns]) c.retire('removed');
  }

  /** Closes every connection now (client close). */
  async close(): Promise<void> {
    this.transition(EndpointState.Removed);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const err = new HeartlineError('CLIENT_CLOSED', 'the client was closed');
    for (const c of this.counters.values()) c.failAll(err);
    await Promise.all(this.conns.map((c) => c.close('client-closed')));
  }

  /**
   * Closes connections that have had no call and no push for `idleMs`, and
   * have neither calls in flight nor live callbacks (a subscription may be
   * quiet for long).
   */
  closeIdle(idleMs: number): void {
    const t = now();
    for (const c of [...this.conns]) {
      if (c.state !== ConnectionState.Ready || c.inFlight > 0 || c.callbacks.size > 0) continue;
      if (t - Math.max(c.lastCallAt, c.lastPushAt) >= idleMs) void c.close('idle');
    }
  }
}

/** ms left before `deadline`, at least 1; 0 for none. */
function msLeft(deadline: number): number {
  return deadline === Infinity ? 0 : Math.max(1, Math.ceil(deadline - now()));
}
