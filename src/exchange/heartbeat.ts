import { MAX_TIMER_MS } from '../protocol/constants.js';
import { now } from '../transport/clock.js';

/** What a heartbeat needs from a connection, and nothing more. */
export interface HeartbeatLink {
  /** When the last bytes arrived (clock ms). */
  lastReadAt(): number;
  /** When the last bytes were handed to the socket (clock ms). */
  lastWriteAt(): number;
  /** Send one ping now. */
  sendPing(): void;
  /** Nothing arrived for `silentMs`: the peer is dead. Called at most once per `start()`. */
  peerDead(silentMs: number): void;
}

export interface HeartbeatOptions {
  /** Ping after this long without writing, or without reading, anything, in ms; 0 never pings. */
  pingInterval: number;
  /** Declare the peer dead after this long without reading anything, in ms; 0 never does. */
  deadAfter: number;
}

/**
 * Two clocks that never mix (MQTT.js mixed them for years):
 *
 * - the **ping clock** fires when, for one `pingInterval`, nothing was
 *   *written* OR nothing was *read* (either), and at most once per interval.
 *   So a connection that only writes (one-way calls) still pings, and the
 *   pongs it reads keep its liveness clock quiet;
 * - the **liveness clock** fires when nothing was *read* for `deadAfter`.
 *
 * Writing never postpones the liveness check, so a side that keeps writing to
 * a dead peer still notices. Timers are not reset on every frame: each fires at
 * its deadline, compares it with the last activity and re-arms. Delays are
 * clamped to what a Node timer takes (MAX_TIMER_MS).
 *
 * Event-loop stalls, two guards:
 * - a timer that fires after a stall may find frames that arrived meanwhile
 *   still unread in the socket. So the verdict is never given from the timer
 *   itself: it is checked again in `setImmediate`, which runs after the event
 *   loop has polled and read every socket;
 * - when the liveness timer fires more than one ping interval late, the
 *   silence was mostly our own (we could not even send pings), so instead of
 *   a verdict the peer gets a fresh ping and one more interval to answer.
 */
export class Heartbeat {
  private readonly link: HeartbeatLink;
  private readonly options: HeartbeatOptions;
  private pingTimer: NodeJS.Timeout | undefined;
  private deadTimer: NodeJS.Timeout | undefined;
  private verdict: NodeJS.Immediate | undefined;
  /** When the liveness timer is due (clock ms), to measure how late it fires. */
  private deadlineDueAt = 0;
  /** When this heartbeat last sent a ping (clock ms); -Infinity before the first. */
  private lastPingAt = -Infinity;
  private running = false;

  constructor(link: HeartbeatLink, options: HeartbeatOptions) {
    this.link = link;
    this.options = options;
  }

  /** Starts both clocks from now. Cancels first, so it never leaks a timer. */
  start(): void {
    this.cancel();
    this.running = true;
    this.lastPingAt = -Infinity;
    if (this.options.pingInterval > 0) this.armPing(this.options.pingInterval);
    if (this.options.deadAfter > 0) this.armDeadline(this.options.deadAfter);
  }

  /** Stops both clocks. Idempotent. */
  cancel(): void {
    this.running = false;
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadTimer);
    if (this.verdict !== undefined) clearImmediate(this.verdict);
    this.pingTimer = this.deadTimer = this.verdict = undefined;
  }

  private armPing(delay: number): void {
    this.pingTimer = setTimeout(onPingTimer, timerDelay(delay), this);
    this.pingTimer.unref();
  }

  private armDeadline(delay: number): void {
    this.deadlineDueAt = now() + delay;
    this.deadTimer = setTimeout(onDeadTimer, timerDelay(delay), this);
    this.deadTimer.unref();
  }

  /** @internal */
  pingDue(): void {
    this.pingTimer = undefined;
    if (!this.running) return;
    const interval = this.options.pingInterval;
    const t = now();
    // Quiet in at least one direction since `quietSince`; never two pings within one interval.
    const quietSince = Math.min(this.link.lastWriteAt(), this.link.lastReadAt());
    const due = Math.max(quietSince, this.lastPingAt) + interval;
    if (t >= due) {
      this.ping(t);
      this.armPing(interval);
    } else {
      this.armPing(due - t);
    }
  }

  private ping(t: number): void {
    this.lastPingAt = t;
    this.link.sendPing();
  }

  /** @internal */
  deadlineDue(): void {
    this.deadTimer = undefined;
    if (!this.running) return;
    const t = now();
    const silent = t - this.link.lastReadAt();
    if (silent < this.options.deadAfter) {
      this.armDeadline(this.options.deadAfter - silent);
      return;
    }
    const interval = this.options.pingInterval;
    if (interval > 0 && t - this.deadlineDueAt > interval) {
      // Our own event loop stalled past a whole ping interval: ask again before judging.
      this.ping(t);
      this.armDeadline(interval);
      return;
    }
    this.verdict = setImmediate(onVerdict, this);
  }

  /** @internal */
  giveVerdict(): void {
    this.verdict = undefined;
    if (!this.running) return;
    const silent = now() - this.link.lastReadAt();
    if (silent < this.options.deadAfter) {
      this.armDeadline(this.options.deadAfter - silent);
      return;
    }
    this.cancel();
    this.link.peerDead(silent);
  }
}

function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(1, ms));
}

function onPingTimer(hb: Heartbeat): void {
  hb.pingDue();
}

function onDeadTimer(hb: Heartbeat): void {
  hb.deadlineDue();
}

function onVerdict(hb: Heartbeat): void {
  hb.giveVerdict();
}
