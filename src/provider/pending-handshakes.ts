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
 * A server's connections in their handshake, under `maxPendingHandshakes`:
 * which ones are pending, and which one gives way when one more comes.
 */
export class PendingHandshakes<C extends PendingHandshake> {
  /** Connections accepted whose handshake has not completed (nor failed) yet, oldest first. */
  private readonly handshaking = new Set<C>();
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
    this.handshaking.add(conn);
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
   */
  makeRoom(tlsHandshakes: number, net: NetServer): boolean {
    if (this.handshaking.size + tlsHandshakes < this.maxPendingHandshakes) return true;
    this.shed++;
    const t = now();
    if (t - this.shedReportedAt >= SHED_REPORT_INTERVAL) {
      this.shedReportedAt = t;
      this.logger.warn({ shed: this.shed }, `${this.maxPendingHandshakes} connections are in their handshake (maxPendingHandshakes): shedding the oldest silent ones, else new ones (${this.shed} so far)`);
    }
    for (const conn of this.handshaking) {
      if (conn.sheddable) {
        this.handshaking.delete(conn); // its place is the newcomer's now (its close comes later)
        conn.shed();
        return true;
      }
    }
    return tlsHandshakes > 0 && evictOldestTlsHandshake(net);
  }
}
