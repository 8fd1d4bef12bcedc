import { now } from '../transport/clock.js';
import { WheelEntry, type TimerWheel } from './timer-wheel.js';

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
 * a dead peer still notices. Clocks are not reset on every frame: each fires at
 * its deadline, compares it with the last activity and re-arms. Both clocks
 * are one entry on their owner's `TimerWheel` (one timer per Server or
 * Client, not two per connection), due at the earlier of the two; so a clock
 * fires at most one wheel resolution late.
 *
 * Event-loop stalls, two guards:
 * - a clock that fires after a stall may find frames that arrived meanwhile
 *   still unread in the socket. So the verdict is never given from the timer
 *   itself: it is checked again in `setImmediate`, which runs after the event
 *   loop has polled and read every socket;
 * - when the liveness clock fires more than one ping interval late, the
 *   silence was mostly our own (we could not even send pings), so instead of
 *   a verdict the peer gets a fresh ping and one more interval to answer.
 */
export class Heartbeat extends WheelEntry {
  private readonly link: HeartbeatLink;
  private readonly options: HeartbeatOptions;
  private readonly wheel: TimerWheel;
  /** When the ping clock is due (clock ms); Infinity when it is off. */
  private pingAt = Infinity;
  /** When the liveness clock is due (clock ms); Infinity when it is off or a verdict is pending. */
  private deadAt = Infinity;
  private verdict: NodeJS.Immediate | undefined;
  /** When this heartbeat last sent a ping (clock ms); -Infinity before the first. */
  private lastPingAt = -Infinity;
  private running = false;

  /** @param wheel the owner's timer wheel (the Server's or the Client's), which drives both clocks. */
  constructor(link: HeartbeatLink, options: HeartbeatOptions, wheel: TimerWheel) {
    super();
    this.link = link;
    this.options = options;
    this.wheel = wheel;
  }

  /** Starts both clocks from now. Cancels first, so it never leaks a timer. */
  start(): void {
    this.cancel();
    this.running = true;
    this.lastPingAt = -Infinity;
    const t = now();
    if (this.options.pingInterval > 0) this.pingAt = t + this.options.pingInterval;
    if (this.options.deadAfter > 0) this.deadAt = t + this.options.deadAfter;
    this.reschedule();
  }

  /** Stops both clocks. Idempotent. */
  cancel(): void {
    this.running = false;
    this.wheel.cancel(this);
    if (this.verdict !== undefined) clearImmediate(this.verdict);
    this.verdict = undefined;
    this.pingAt = this.deadAt = Infinity;
  }

  private reschedule(): void {
    const at = Math.min(this.pingAt, this.deadAt);
    if (at === Infinity) this.wheel.cancel(this);
    else this.wheel.schedule(this, at);
  }

  /** @internal (WheelEntry) A clock is due. */
  fire(t: number): void {
    if (!this.running) return;
    if (this.pingAt <= t) this.pingDue(t);
    if (this.running && this.deadAt <= t) this.deadlineDue(t);
    // A ping may have closed the connection (cancel()): then nothing is scheduled again.
    if (this.running) this.reschedule();
  }

  private pingDue(t: number): void {
    const interval = this.options.pingInterval;
    // Quiet in at least one direction since `quietSince`; never two pings within one interval.
    const quietSince = Math.min(this.link.lastWriteAt(), this.link.lastReadAt());
    const due = Math.max(quietSince, this.lastPingAt) + interval;
    if (t >= due) {
      this.ping(t);
      this.pingAt = t + interval;
    } else {
      this.pingAt = due;
    }
  }

  private ping(t: number): void {
    this.lastPingAt = t;
    this.link.sendPing();
  }

  private deadlineDue(t: number): void {
    const dueAt = this.deadAt;
    this.deadAt = Infinity;
    const silent = t - this.link.lastReadAt();
    if (silent < this.options.deadAfter) {
      this.deadAt = t + this.options.deadAfter - silent;
      return;
    }
    const interval = this.options.pingInterval;
    if (interval > 0 && t - dueAt > interval) {
      // Our own event loop stalled past a whole ping interval: ask again before judging.
      this.ping(t);
      this.deadAt = t + interval;
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
      this.deadAt = now() + this.options.deadAfter - silent;
      this.reschedule();
      return;
    }
    this.cancel();
    this.link.peerDead(silent);
  }
}

function onVerdict(hb: Heartbeat): void {
  hb.giveVerdict();
}
