// Unit tests of the two heartbeat clocks (src/exchange/heartbeat.ts) with fake
// timers and a fake link: no socket, no real time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, type HeartbeatLink } from '../../src/exchange/heartbeat.js';
import { TimerWheel } from '../../src/exchange/timer-wheel.js';

/** A link whose read/write clocks the test moves by hand; `sendPing` counts as a write. */
class FakeLink implements HeartbeatLink {
  read = performance.now();
  write = performance.now();
  readonly pings: number[] = [];
  readonly deaths: Array<{ at: number; silentMs: number }> = [];
  /** When true, every ping is answered at once (a healthy peer). */
  answerPings = false;

  lastReadAt(): number {
    return this.read;
  }

  lastWriteAt(): number {
    return this.write;
  }

  sendPing(): void {
    this.pings.push(performance.now());
    this.write = performance.now();
    if (this.answerPings) this.read = performance.now();
  }

  peerDead(silentMs: number): void {
    this.deaths.push({ at: performance.now(), silentMs });
  }

  /** Marks bytes as read now. */
  gotBytes(): void {
    this.read = performance.now();
  }

  /** Marks bytes as written now. */
  wroteBytes(): void {
    this.write = performance.now();
  }
}

const INTERVAL = 100;
const MISSES = 3;
const DEAD_AFTER = INTERVAL * MISSES;

describe('Heartbeat (two clocks)', () => {
  let start = 0;
  /** The clocks' wheel, at 1 ms resolution so that the deadlines below are exact. */
  let wheel: TimerWheel;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'performance', 'Date'] });
    start = performance.now();
    wheel = new TimerWheel(1);
  });

  afterEach(() => {
    vi.clearAllTimers();
    vi.useRealTimers();
  });

  const elapsed = (t: number): number => t - start;

  it('an idle connection pings once per interval, and a peer that answers is never declared dead', () => {
    const link = new FakeLink();
    link.answerPings = true;
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    hb.start();

    vi.advanceTimersByTime(INTERVAL - 1);
    expect(link.pings).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(link.pings).toHaveLength(1);

    vi.advanceTimersByTime(10 * INTERVAL);
    expect(link.pings.map(elapsed)).toEqual(Array.from({ length: 11 }, (_, i) => (i + 1) * INTERVAL));
    expect(link.deaths).toEqual([]);
    hb.cancel();
  });

  it('a ping waits a full interval after the last exchange (a write and a read), not after the last ping', () => {
    const link = new FakeLink();
    link.answerPings = true;
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: 0 }, wheel);
    hb.start();

    vi.advanceTimersByTime(60);
    link.wroteBytes(); // a call at t=60
    link.gotBytes(); // and its response
    vi.advanceTimersByTime(40); // t=100: only 40 ms idle, no ping
    expect(link.pings).toHaveLength(0);
    vi.advanceTimersByTime(59); // t=159
    expect(link.pings).toHaveLength(0);
    vi.advanceTimersByTime(1); // t=160: 100 ms idle
    expect(link.pings.map(elapsed)).toEqual([160]);
    hb.cancel();
  });

  it('B1: writes moving but nothing read for an interval -> it pings, once per interval', () => {
    const link = new FakeLink();
    link.answerPings = true;
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    // One-way calls every 50 ms: the consumer writes all the time and reads only pongs.
    const sending = setInterval(() => link.wroteBytes(), 50);
    hb.start();

    vi.advanceTimersByTime(10 * DEAD_AFTER);
    expect(link.pings.map(elapsed)).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * INTERVAL));
    expect(link.deaths).toEqual([]); // the pongs keep the liveness clock quiet
    clearInterval(sending);
    hb.cancel();
  });

  it('B1: reads moving but nothing written for an interval -> it pings (pushes alone do not hold it back)', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    const pushes = setInterval(() => link.gotBytes(), 30);
    hb.start();

    vi.advanceTimersByTime(5 * INTERVAL);
    expect(link.pings.map(elapsed)).toEqual([100, 200, 300, 400, 500]);
    expect(link.deaths).toEqual([]);
    clearInterval(pushes);
    hb.cancel();
  });

  it('a peer that answers nothing gets one ping per interval, never a burst', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: 0 }, wheel);
    hb.start();
    vi.advanceTimersByTime(10 * INTERVAL + 50);
    expect(link.pings.map(elapsed)).toEqual(Array.from({ length: 10 }, (_, i) => (i + 1) * INTERVAL));
    hb.cancel();
  });

  it('intervals past the Node timer limit are clamped: no TimeoutOverflowWarning', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const link = new FakeLink();
      const huge = 2 ** 31 - 1;
      const hb = new Heartbeat(link, { pingInterval: huge, deadAfter: huge * 3 }, wheel);
      hb.start();
      vi.advanceTimersByTime(60_000);
      expect(link.pings).toEqual([]);
      expect(link.deaths).toEqual([]);
      hb.cancel();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('a busy connection (writes keep moving) never pings', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    // Calls and their responses every 30 ms.
    const traffic = setInterval(() => {
      link.wroteBytes();
      link.gotBytes();
    }, 30);
    hb.start();

    vi.advanceTimersByTime(5000);
    expect(link.pings).toEqual([]);
    expect(link.deaths).toEqual([]);
    clearInterval(traffic);
    hb.cancel();
  });

  it('silence for interval x misses calls peerDead exactly once, then stops every timer', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    hb.start();

    vi.advanceTimersByTime(DEAD_AFTER - 1);
    expect(link.deaths).toEqual([]);
    // The pings went out (they are writes) but nothing came back.
    expect(link.pings.map(elapsed)).toEqual([100, 200]);

    vi.advanceTimersByTime(1); // the deadline fires; the verdict follows in setImmediate
    vi.advanceTimersByTime(5);
    expect(link.deaths).toHaveLength(1);
    expect(link.deaths[0]!.silentMs).toBeGreaterThanOrEqual(DEAD_AFTER);
    expect(elapsed(link.deaths[0]!.at)).toBeLessThanOrEqual(DEAD_AFTER + 2);
    expect(vi.getTimerCount()).toBe(0);

    const pingsAtDeath = link.pings.length;
    vi.advanceTimersByTime(10 * DEAD_AFTER);
    expect(link.deaths).toHaveLength(1);
    expect(link.pings).toHaveLength(pingsAtDeath);
  });

  it('outbound traffic (writes moving, reads frozen) does NOT keep a dead connection alive', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    // The consumer keeps sending calls every 10 ms to a peer that answers nothing.
    const sending = setInterval(() => link.wroteBytes(), 10);
    hb.start();

    vi.advanceTimersByTime(DEAD_AFTER + 5);
    // Writing all the time, but nothing read: it pings (B1); nothing answers.
    expect(link.pings.map(elapsed)).toEqual([100, 200, 300]);
    expect(link.deaths).toHaveLength(1);
    expect(elapsed(link.deaths[0]!.at)).toBeLessThanOrEqual(DEAD_AFTER + 2);
    clearInterval(sending);
  });

  it('reads keep the connection alive; the deadline counts from the last read', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    hb.start();

    // Bytes arrive every 250 ms (< 300): alive for 3 s.
    for (let i = 0; i < 12; i++) {
      vi.advanceTimersByTime(250);
      link.gotBytes();
    }
    expect(link.deaths).toEqual([]);
    const lastRead = link.read;

    vi.advanceTimersByTime(DEAD_AFTER + 5);
    expect(link.deaths).toHaveLength(1);
    const after = link.deaths[0]!.at - lastRead;
    expect(after).toBeGreaterThanOrEqual(DEAD_AFTER);
    expect(after).toBeLessThanOrEqual(DEAD_AFTER + 2);
    hb.cancel();
  });

  it('stall guard: bytes read between the deadline timer and its setImmediate verdict keep the peer alive', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: 0, deadAfter: DEAD_AFTER }, wheel);
    hb.start();

    vi.advanceTimersToNextTimer(); // the deadline timer fires and only schedules the verdict
    expect(elapsed(performance.now())).toBe(DEAD_AFTER);
    expect(link.deaths).toEqual([]);
    expect(vi.getTimerCount()).toBe(1); // the pending setImmediate

    link.gotBytes(); // the poll phase read a frame that waited in the socket during a stall
    vi.advanceTimersToNextTimer(); // the verdict
    expect(link.deaths).toEqual([]);

    // Re-armed from that read: dead DEAD_AFTER later.
    const readAt = link.read;
    vi.advanceTimersByTime(DEAD_AFTER + 5);
    expect(link.deaths).toHaveLength(1);
    expect(link.deaths[0]!.at - readAt).toBeGreaterThanOrEqual(DEAD_AFTER);
  });

  it('start() twice leaks no timer; cancel() clears all, including a pending verdict', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    hb.start();
    const one = vi.getTimerCount();
    expect(one).toBe(1); // ping clock + liveness clock: one wheel timer
    hb.start();
    hb.start();
    expect(vi.getTimerCount()).toBe(one);

    hb.cancel();
    expect(vi.getTimerCount()).toBe(0);
    hb.cancel(); // idempotent
    vi.advanceTimersByTime(10 * DEAD_AFTER);
    expect(link.pings).toEqual([]);
    expect(link.deaths).toEqual([]);

    // Cancel while the verdict (setImmediate) is pending: it never arrives.
    const hb2 = new Heartbeat(link, { pingInterval: 0, deadAfter: DEAD_AFTER }, wheel);
    link.gotBytes();
    hb2.start();
    vi.advanceTimersToNextTimer();
    expect(vi.getTimerCount()).toBe(1);
    hb2.cancel();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * DEAD_AFTER);
    expect(link.deaths).toEqual([]);
  });

  it('start() after peerDead runs the clocks again (peerDead at most once per start)', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: 0, deadAfter: DEAD_AFTER }, wheel);
    hb.start();
    vi.advanceTimersByTime(DEAD_AFTER + 5);
    expect(link.deaths).toHaveLength(1);

    link.gotBytes();
    hb.start();
    vi.advanceTimersByTime(DEAD_AFTER + 5);
    expect(link.deaths).toHaveLength(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('zero intervals disable each clock', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: 0, deadAfter: 0 }, wheel);
    hb.start();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(link.pings).toEqual([]);
    expect(link.deaths).toEqual([]);

    // The provider's shape: it never pings, it only notices silence.
    const provider = new Heartbeat(link, { pingInterval: 0, deadAfter: 900 }, wheel);
    link.gotBytes();
    provider.start();
    vi.advanceTimersByTime(905);
    expect(link.pings).toEqual([]);
    expect(link.deaths).toHaveLength(1);
  });
  it('a ping that closes the connection (cancel() from sendPing) leaves nothing scheduled', () => {
    const link = new FakeLink();
    const hb = new Heartbeat(link, { pingInterval: INTERVAL, deadAfter: DEAD_AFTER }, wheel);
    const sendPing = link.sendPing.bind(link);
    link.sendPing = () => {
      sendPing();
      hb.cancel(); // the write bound was reached: the connection is destroyed at once
    };
    hb.start();
    vi.advanceTimersByTime(INTERVAL);
    expect(link.pings).toHaveLength(1);
    expect(wheel.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
