import { PING_BURST } from '../protocol/constants.js';
import { now } from '../transport/clock.js';

/** Interval the guard assumes when the agreed heartbeat is 0 (no pings expected), in ms. */
const DEFAULT_INTERVAL = 1000;

/**
 * The rate limit on the pings a peer sends (protocol.md 4.4): a token bucket of
 * PING_BURST tokens, one regained every `interval / 2` ms, where `interval` is
 * the agreed heartbeat (1000 ms when it is 0). Each ping takes a token; a ping
 * that finds none is over the limit and the connection closes ('too-many-pings').
 *
 * A peer that pings at twice the agreed rate, forever, is never cut off; a flood
 * is, after PING_BURST pings. No timer: tokens are counted from the clock when a
 * ping arrives. O(1) per ping.
 */
export class PingGuard {
  private readonly refillMs: number;
  private tokens = PING_BURST;
  /** When the bucket last gained a token (or was last full), clock ms. */
  private refilledAt = now();

  /** `heartbeat`: the agreed ping interval in ms, 0 for none. */
  constructor(heartbeat: number) {
    this.refillMs = (heartbeat > 0 ? heartbeat : DEFAULT_INTERVAL) / 2;
  }

  /**
   * Takes a token for one ping; false when the peer is over the limit. With a
   * `reserve`, also false while no more than `reserve` tokens are left (a
   * sender keeping a margin under its peer's limit).
   */
  allow(reserve = 0): boolean {
    const t = now();
    const gained = Math.floor((t - this.refilledAt) / this.refillMs);
    if (gained > 0) {
      this.tokens = Math.min(PING_BURST, this.tokens + gained);
      // A full bucket stops accruing; otherwise keep the fraction of a token already earned.
      this.refilledAt = this.tokens === PING_BURST ? t : this.refilledAt + gained * this.refillMs;
    }
    if (this.tokens <= reserve) return false;
    this.tokens--;
    return true;
  }
}
