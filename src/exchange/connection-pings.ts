import { HeartlineError } from '../errors/heartline-error.js';
import { FrameType } from '../protocol/constants.js';
import { FLAGS } from '../protocol/frame.js';
import { now } from '../transport/clock.js';
import type { Logger } from '../transport/logger.js';
import type { Transport } from '../transport/transport.js';
import { ConnectionState, type DisconnectReason } from './connection-state.js';
import { PingGuard } from './ping-guard.js';
import type { PingWaiters } from './ping-waiters.js';

/** Tokens of the provider's ping limit that `ping()` leaves for the heartbeat and for jitter in the network. */
const PING_RESERVE = 2;
/** Bound on `ping()` callers waiting on one connection (while the handshake runs, they all wait). */
export const MAX_PING_WAITERS = 100;

/** What the pings need of the consumer's connection. */
export interface PingHost {
  readonly address: string;
  readonly log: Logger;
  readonly state: ConnectionState;
  /** Closes the connection now, for `kind`, with `err`. */
  shutdown(kind: DisconnectReason, err: HeartlineError): void;
  /** A pong answered our last ping after `rtt` ms. */
  ponged(rtt: number): void;
}

/**
 * The pings of one consumer connection, both ways: ours (the heartbeat's and
 * `ping()`'s, counted against the provider's limit on them) with their pongs,
 * and the provider's, answered within our limit on them (A2). The waiters of
 * `ping()` are the connection's (`PingWaiters`: they keep its socket ref'd).
 */
export class ConnectionPings {
  private pingId = 0;
  private pingSentAt = 0;
  /** Rate limit on the provider's pings (A2); set for the agreed heartbeat at the handshake. */
  private pingGuard = new PingGuard(0);
  /** Our own pings, counted against the provider's limit on them (the same bucket as its guard). */
  private outgoingPings = new PingGuard(0);

  constructor(
    private readonly host: PingHost,
    private readonly transport: Transport,
    /** Pings the application asked for (`ping()`), waiting for their pongs. */
    private readonly pings: PingWaiters,
    private readonly maxQueuedBytes: number,
  ) {}

  /**
   * Sends one ping and resolves with its round-trip time in ms once the pong
   * arrives. While the handshake runs it waits, and one ping goes out for
   * every waiter once the connection is ready. Fails with TIMEOUT after
   * `timeout` ms (0: no limit; the heartbeat still ends a dead connection),
   * LIMIT_EXCEEDED when one more ping now could go over the provider's limit
   * on pings (PING_BURST, then one per heartbeat / 2: protocol.md 4.4; the
   * heartbeat's own pings count too, and two are kept in reserve for them),
   * and with the connection's error if it closes first. At most
   * MAX_PING_WAITERS wait at once; one more: LIMIT_EXCEEDED.
   */
  ping(timeout: number): Promise<number> {
    const s = this.host.state;
    const timedOut = (): HeartlineError => new HeartlineError('TIMEOUT', `ping: no pong from ${this.host.address} within ${timeout} ms`);
    if (this.pings.size >= MAX_PING_WAITERS) {
      return Promise.reject(new HeartlineError('LIMIT_EXCEEDED', `ping: ${MAX_PING_WAITERS} pings already wait on the connection to ${this.host.address}`));
    }
    if (s === ConnectionState.Connecting || s === ConnectionState.Handshaking) return this.pings.add(0, 0, timeout, timedOut);
    if (s !== ConnectionState.Ready && s !== ConnectionState.Draining) {
      return Promise.reject(new HeartlineError('CONNECTION_LOST_UNWRITTEN', `ping: connection to ${this.host.address} is ${s}`));
    }
    if (!this.outgoingPings.allow(PING_RESERVE)) {
      return Promise.reject(new HeartlineError('LIMIT_EXCEEDED', `ping: more pings now would go over ${this.host.address}'s limit (one per heartbeat / 2 after a burst)`));
    }
    const id = this.writePing();
    if (id === 0) return Promise.reject(this.pingRefused());
    return this.pings.add(id, this.pingSentAt, timeout, timedOut);
  }

  /** A ping the writer refused (its bound on queued bytes is reached): it was never sent, no pong will come. */
  private pingRefused(): HeartlineError {
    return new HeartlineError('LIMIT_EXCEEDED', `ping: more than ${this.maxQueuedBytes} bytes are waiting to be written to ${this.host.address}`);
  }

  /** The handshake agreed on `heartbeat` (ms; 0 for none): both limits on pings follow it. */
  agreed(heartbeat: number): void {
    this.pingGuard = new PingGuard(heartbeat);
    this.outgoingPings = new PingGuard(heartbeat);
  }

  /** The connection is ready: one ping goes out for the `ping()` callers that waited for the handshake. */
  sendQueued(): void {
    if (this.pings.hasQueued) {
      this.outgoingPings.allow(); // the first ping of a connection: the bucket is full
      const id = this.writePing();
      if (id === 0) this.pings.failQueued(this.pingRefused());
      else this.pings.sendQueued(id, this.pingSentAt);
    }
  }

  /** The heartbeat's ping. */
  sendPing(): void {
    this.outgoingPings.allow(); // the heartbeat's pings are never held back (at most one per interval): they only take a token
    this.writePing();
  }

  /** Writes one ping with the next id and returns the id; 0 when the writer refused it (closed, or its bound reached). */
  private writePing(): number {
    const id = this.pingId >= 0xffffffff ? 1 : this.pingId + 1;
    if (this.transport.send(FLAGS.ping, 0, FrameType.Heartbeat, id) === 0) return 0;
    this.pingId = id;
    this.pingSentAt = now();
    return id;
  }

  /** A pong with ping id `id`. */
  pong(id: number): void {
    const t = now();
    if (id === this.pingId && this.pingSentAt > 0) this.host.ponged(t - this.pingSentAt);
    this.pings.pong(id, t);
  }

  /** A provider's ping (the Node provider sends none): a pong ahead of other frames, within the rate limit. */
  answerPing(id: number): void {
    if (!this.pingGuard.allow()) {
      this.host.log.warn({}, `provider ${this.host.address} sends pings faster than the heartbeat allows; closing this connection`);
      this.host.shutdown('too-many-pings', new HeartlineError('PROTOCOL_ERROR', 'too many pings'));
      return;
    }
    if (this.transport.sendUrgent(FLAGS.pong, FrameType.Heartbeat, id) === 0 && !this.transport.writer.isClosed) {
      // The write bound is reached: the provider does not read what we send.
      this.host.log.warn({}, `provider ${this.host.address} is not reading; closing this connection`);
      this.host.shutdown('socket-error', new HeartlineError('LIMIT_EXCEEDED', 'write queue bound reached'));
    }
  }
}
