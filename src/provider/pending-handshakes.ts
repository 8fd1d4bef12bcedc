import type { Server as NetServer } from 'node:net';
import { now } from '../transport/clock.js';
import type { Logger } from '../transport/logger.js';
import { evictOldestTlsHandshake } from '../transport/secure-socket.js';

/** What the accounting needs of a connection in its handshake. */
export interface PendingHandshake {
  /** Waiting for nothing but its consumer: it may be shed first. */
  readonly sheddable: boolean;
  /** Closes it, unanswered, to make room for a newer connection. */
  shed(): void;
}

/** Shortest time between two warnings about connections shed by `maxPendingHandshakes`, in ms. */
const SHED_REPORT_INTERVAL = 10_000;
/**
 * A silent connection pending for less than this (ms) is not shed to make room
 * while fewer than `HARD_CAP_FACTOR × maxPendingHandshakes` are pending: at a
 * burst of consumers connecting at once, their handshakes are often only
 * unread yet (the provider accepts a wave, then reads it), and shedding them
 * failed first calls that a moment later would have succeeded.
 */
export const SHED_MIN_AGE = 1000;
/** Past this many times `maxPendingHandshakes` pending, the oldest silent one is shed whatever its age. */
export const HARD_CAP_FACTOR = 16;

/**
 * A server's connections in their handshake, under `maxPendingHandshakes`:
 * which ones are pending, and which one gives way when one more comes.
 */
export class PendingHandshakes<C extends PendingHandshake> {
  /** Connections accepted whose handshake has not completed (nor failed) yet, oldest first, with when they came (clock ms). */
  private readonly handshaking = new Map<C, number>();
  /** When a connection over `maxPendingHandshakes` was last reported (clock ms): one warning per 10 s at most. */
  private shedReportedAt = -Infinity;
  /** Connections shed since start (the server's `connectionsShed`). */
  shed = 0;

  constructor(
    private readonly maxPendingHandshakes: number,
    private readonly logger: Logger,
  ) {}

  /** A connection accepted: its handshake is pending. */
  add(conn: C): void {
    this.handshaking.set(conn, now());
  }

  /** Its handshake completed, or it closed. */
  delete(conn: C): void {
    this.handshaking.delete(conn);
  }

  /**
   * Room for one more connection in its handshake, under `maxPendingHandshakes`
   * (Heartline handshakes, `authenticate` included, and `tlsHandshakes` TLS
   * ones). At the cap, one is shed, unanswered, counted and reported: the
   * oldest that has not sent its handshake request (silent or dripping) or
   * was refused and is held open by its consumer, else
   * the oldest TLS handshake, else the newcomer (false). Shedding the oldest
   * silent one rather than the newcomer means a standing flood of idle
   * connections, renewed every `handshakeTimeout`, cannot lock consumers
   * out: it would have to outpace their handshakes.
   *
   * A silent one younger than `SHED_MIN_AGE` is not shed: while none is older,
   * the newcomer is let in over the cap, up to `HARD_CAP_FACTOR` times it, so
   * that thousands of consumers connecting at once all get their first call
   * through. Past that hard cap the age no longer protects anyone.
   */
  makeRoom(tlsHandshakes: number, net: NetServer): boolean {
    const pending = this.handshaking.size + tlsHandshakes;
    if (pending < this.maxPendingHandshakes) return true;
    const t = now();
    const hard = pending >= this.maxPendingHandshakes * HARD_CAP_FACTOR;
    const victim = this.oldestSheddable(hard ? Infinity : t - SHED_MIN_AGE);
    // A burst, not a flood: silent ones there are, but all young, and the hard cap is not reached.
    if (victim === undefined && !hard && this.oldestSheddable(Infinity) !== undefined) return true;
    this.shed++;
    if (t - this.shedReportedAt >= SHED_REPORT_INTERVAL) {
      this.shedReportedAt = t;
      this.logger.warn({ shed: this.shed }, `${this.maxPendingHandshakes} connections are in their handshake (maxPendingHandshakes): shedding the oldest silent ones, else new ones (${this.shed} so far)`);
    }
    if (victim !== undefined) {
      this.handshaking.delete(victim); // its place is the newcomer's now (its close comes later)
      victim.shed();
      return true;
    }
    return tlsHandshakes > 0 && evictOldestTlsHandshake(net);
  }

  /** The oldest sheddable connection that came at or before `cameBy` (clock ms). */
  private oldestSheddable(cameBy: number): C | undefined {
    for (const [conn, came] of this.handshaking) {
      if (came > cameBy) return undefined; // oldest first: the rest came later still
      if (conn.sheddable) return conn;
    }
    return undefined;
  }
}
