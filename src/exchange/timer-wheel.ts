import { MAX_TIMER_MS } from '../protocol/constants.js';
import { now } from '../transport/clock.js';

/** Resolution of a server's or client's timer wheel, in ms: a deadline fires at most this late (heartbeats are seconds). */
export const WHEEL_RESOLUTION_MS = 100;

/**
 * One deadline on a wheel. Its owner embeds (or extends) it; the wheel links
 * it into the list of its tick, so scheduling and cancelling allocate nothing
 * and cost O(1).
 */
export abstract class WheelEntry {
  /** @internal The tick this entry is due at; -1 when not scheduled. */
  tick = -1;
  /** @internal Neighbours in its tick's list. */
  prev: WheelEntry | undefined = undefined;
  next: WheelEntry | undefined = undefined;

  /** Called by the wheel at (or at most one resolution after) its deadline, once per `schedule`. */
  abstract fire(t: number): void;
}

/** The head of one tick's list (a sentinel). */
class Bucket {
  first: WheelEntry | undefined = undefined;
}

/**
 * Many deadlines driven by one unref'd Node timer: the heartbeat and idle
 * clocks of every connection of one `Server` (or one `Client`), instead of
 * two timers per connection.
 *
 * Deadlines are rounded up to `resolution` ms ticks (never early, at most one
 * tick late). Each tick that has entries has a list; a min-heap holds those
 * ticks, and the one timer sleeps until the earliest. So a tick's work is
 * proportional to the entries due then (plus a log of the ticks pending), not
 * to every connection, and an empty wheel holds no timer. After an event-loop
 * stall every overdue tick is run, oldest first.
 *
 * Its owner (the Server or Client) calls `stop()` when it closes: the timer is
 * cleared and every entry unscheduled (idempotent). Scheduling again later
 * starts it again.
 */
export class TimerWheel {
  private readonly resolution: number;
  private readonly buckets = new Map<number, Bucket>();
  /** Ticks with a bucket, as a binary min-heap (a tick appears once). */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The tick the timer is armed for. */
  private timerTick = Infinity;
  /** The tick being run (entries scheduled meanwhile go later), or -1. */
  private running = -1;
  /** The list of that tick, already out of `buckets`: what `stop()` must end too. */
  private runningBucket: Bucket | undefined;
  /** Entries scheduled. */
  size = 0;

  /** @param resolution tick length in ms (default WHEEL_RESOLUTION_MS); tests use 1. */
  constructor(resolution = WHEEL_RESOLUTION_MS) {
    this.resolution = resolution;
  }

  /** (Re)schedules `entry` to fire at clock time `at` (ms). */
  schedule(entry: WheelEntry, at: number): void {
    this.cancel(entry);
    let tick = Math.ceil(at / this.resolution);
    if (tick <= this.running) tick = this.running + 1;
    let bucket = this.buckets.get(tick);
    if (bucket === undefined) {
      bucket = new Bucket();
      this.buckets.set(tick, bucket);
      heapPush(this.heap, tick);
    }
    entry.tick = tick;
    entry.prev = undefined;
    entry.next = bucket.first;
    if (bucket.first !== undefined) bucket.first.prev = entry;
    bucket.first = entry;
    this.size++;
    if (tick < this.timerTick && this.running < 0) this.arm(tick);
  }

  /** Unschedules `entry` (idempotent). Its bucket stays until its tick: a heap entry, no timer of its own. */
  cancel(entry: WheelEntry): void {
    if (entry.tick < 0) return;
    const bucket = this.buckets.get(entry.tick);
    if (bucket !== undefined) {
      if (entry.prev !== undefined) entry.prev.next = entry.next;
      else bucket.first = entry.next;
      if (entry.next !== undefined) entry.next.prev = entry.prev;
    }
    entry.tick = -1;
    entry.prev = entry.next = undefined;
    this.size--;
    if (this.size === 0 && this.running < 0) this.clear();
  }

  /** Clears the timer and unschedules every entry. Idempotent. */
  stop(): void {
    if (this.runningBucket !== undefined) this.buckets.set(this.running, this.runningBucket);
    for (const bucket of this.buckets.values()) {
      for (let e = bucket.first; e !== undefined; ) {
        const next = e.next;
        e.tick = -1;
        e.prev = e.next = undefined;
        e = next;
      }
      bucket.first = undefined; // a tick being run (stop() from an entry's fire) ends there
    }
    this.size = 0;
    this.clear();
  }

  /** True while the wheel holds a timer. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  private clear(): void {
    this.buckets.clear();
    this.heap.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerTick = Infinity;
  }

  private arm(tick: number): void {
    clearTimeout(this.timer);
    this.timerTick = tick;
    const delay = Math.min(MAX_TIMER_MS, Math.max(1, tick * this.resolution - now()));
    this.timer = setTimeout(onWheelTimer, delay, this);
    this.timer.unref();
  }

  /** @internal The timer fired: runs every tick due, oldest first, then sleeps until the next. */
  run(): void {
    this.timer = undefined;
    this.timerTick = Infinity;
    const t = now();
    const current = Math.floor(t / this.resolution);
    let failure: { error: unknown } | undefined;
    while (this.heap.length > 0 && this.heap[0]! <= current) {
      const tick = heapPop(this.heap);
      const bucket = this.buckets.get(tick);
      this.buckets.delete(tick);
      if (bucket === undefined) continue;
      this.running = tick;
      this.runningBucket = bucket;
      // Entries scheduled while this tick runs land in later ticks: the loop ends.
      for (let e = bucket.first; e !== undefined; e = bucket.first) {
        bucket.first = e.next;
        if (e.next !== undefined) e.next.prev = undefined;
        e.tick = -1;
        e.prev = e.next = undefined;
        this.size--;
        try {
          e.fire(t);
        } catch (error) {
          // One entry's failure must not stop the others' clocks: thrown once the wheel is consistent again.
          failure ??= { error };
        }
      }
      this.running = -1;
      this.runningBucket = undefined;
    }
    if (this.size === 0) this.clear();
    else if (this.heap.length > 0) this.arm(this.heap[0]!);
    if (failure !== undefined) throw failure.error;
  }
}

function onWheelTimer(wheel: TimerWheel): void {
  wheel.run();
}

function heapPush(heap: number[], v: number): void {
  let i = heap.push(v) - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (heap[p]! <= v) break;
    heap[i] = heap[p]!;
    i = p;
  }
  heap[i] = v;
}

function heapPop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && heap[l + 1]! < heap[l]! ? l + 1 : l;
      if (heap[c]! >= last) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
  return top;
}
