import type { ErrorCode } from '../errors/codes.js';
import { trimHead } from './trim-head.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { now } from '../transport/clock.js';
import { unwatchAbort } from './abort-watch.js';
import { IdTable } from './id-table.js';
import { RequestIds } from './request-ids.js';

/** What the pending table needs to know about a call's request. */
export interface CallRequest {
  /** `service#method`, for messages. */
  readonly label: string;
  /** ms; 0 or Infinity for none. */
  readonly timeout: number;
  /** Carries the caller's stack, or undefined when stacks are not captured. */
  readonly origin: Error | undefined;
  /** Called once when the call settles, whichever way, before its promise does. */
  readonly onSettle?: ((request: CallRequest) => void) | undefined;
  /** Cancels the call; the table stops the call watching it when the call leaves the table. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A call waiting for its response. It is its own watcher of `request.signal`
 * (abort-watch.ts: no closure per call, one listener per signal).
 */
export interface PendingCall<R extends CallRequest = CallRequest> {
  readonly id: number;
  readonly request: R;
  /** Write sequence number of its request frame; 0 until it is queued. */
  seq: number;
  /** When it times out (clock ms); Infinity for never. */
  deadline: number;
  resolve(value: unknown): void;
  reject(err: HeartlineError): void;
  /** Called when `request.signal` fires, if the call watches it (calls without a signal need not). */
  onAbort?(signal: AbortSignal): void;
}

/** Stops `call` watching its signal, if it has both. */
function unlisten(call: PendingCall): void {
  const signal = call.request.signal;
  if (signal !== undefined && call.onAbort !== undefined) unwatchAbort(signal, call as PendingCall & { onAbort(signal: AbortSignal): void });
}

/**
 * The pending table of one connection. Invariant: a call is in the table until
 * it settles, and it settles exactly once: remove it from the table (and its
 * deadline bucket), then resolve or reject.
 *
 * ```
 *   add() --> [ pending ] --response--> take() --> resolve / reject
 *                 |  `--deadline passes---> onTimeout(call) --> fail(TIMEOUT)
 *                 `---connection closes---> failAll() --> reject CONNECTION_LOST_*
 * ```
 *
 * Deadlines: calls are grouped by timeout value, each group a queue in
 * insertion (so deadline) order (DeadlineQueue). One timer, owned here, is
 * armed for the earliest deadline; when it fires it expires the overdue heads
 * and re-arms. A call costs one Map set and delete (the id map), a push onto
 * its queue, and no timer of its own.
 */
/**
 * A call's entry in the tables (the id map and its deadline bucket share it),
 * cleared when the call leaves them. Not the call itself: measured on Node 20,
 * a value deleted from a Map stays reachable long enough to be promoted to the
 * old generation, and with it the call's whole request (see ServerConnection's
 * ExecutionSlot for the figures).
 */
class Slot<C> {
  constructor(
    public call: C | undefined,
    /** The deadline queue it is in, if any. */
    readonly queue: DeadlineQueue<C> | undefined,
  ) {}
}

/**
 * The slots of one timeout value, in insertion (so deadline) order. A call
 * that settles only clears its slot (no search, no Map delete); cleared slots
 * are dropped from the head as calls are added and expired, and the queue is
 * compacted when they outnumber the live ones (one long call at the head
 * holds the rest back): it holds at most about twice its live slots, plus 64.
 */
class DeadlineQueue<C> {
  private slots: Slot<C>[] = [];
  private head = 0;
  /** Slots not cleared. */
  live = 0;

  push(slot: Slot<C>): void {
    this.live++;
    this.slots.push(slot);
    this.dropCleared();
    if (this.slots.length - this.head > 2 * this.live + 64) this.compact();
  }

  /** The first slot not cleared, or undefined when none is (cleared heads are dropped on the way). */
  first(): Slot<C> | undefined {
    this.dropCleared();
    return this.head < this.slots.length ? this.slots[this.head] : undefined;
  }

  /** The live slots from the head on, in order (the timer's path only: a generator). */
  *liveSlots(): Generator<Slot<C>> {
    const slots = this.slots;
    for (let i = this.head; i < slots.length; i++) if (slots[i]!.call !== undefined) yield slots[i]!;
  }

  /** Slots held, cleared ones included (for tests of the bound). */
  get held(): number {
    return this.slots.length - this.head;
  }

  private dropCleared(): void {
    const slots = this.slots;
    let head = this.head;
    while (head < slots.length && slots[head]!.call === undefined) head++;
    this.head = trimHead(slots, head);
  }

  private compact(): void {
    const kept: Slot<C>[] = [];
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i]!.call !== undefined) kept.push(this.slots[i]!);
    this.slots = kept;
    this.head = 0;
  }
}

export class PendingCalls<C extends PendingCall = PendingCall> {
  /** By id; an IdTable allocates nothing per set and delete, unlike a Map. */
  private readonly calls = new IdTable<Slot<C>>();
  private readonly buckets = new Map<number, DeadlineQueue<C>>();
  private readonly ids = new RequestIds();
  private readonly inUse = (id: number): boolean => this.calls.has(id);
  private readonly onTimeout: (call: C) => void;
  private readonly onBusyChange: ((busy: boolean) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  /** Responses that arrived for calls no longer pending (timed out or cancelled). */
  lateResponses = 0;

  /**
   * `onTimeout` is called for each call whose deadline passed; it should `fail()` it.
   * `onBusyChange` is called when the table goes from empty to not empty (true) and back (false).
   */
  constructor(onTimeout: (call: C) => void, onBusyChange?: (busy: boolean) => void) {
    this.onTimeout = onTimeout;
    this.onBusyChange = onBusyChange;
  }

  get size(): number {
    return this.calls.size;
  }

  nextId(): number {
    return this.ids.next(this.inUse);
  }

  /** `at`: now (clock ms), when the caller has just read the clock; calls must be added in order of `at`. */
  add(call: C, at: number = now()): void {
    const timeout = call.request.timeout;
    let bucket: DeadlineQueue<C> | undefined;
    if (timeout > 0 && Number.isFinite(timeout)) {
      call.deadline = at + timeout;
      bucket = this.buckets.get(timeout);
      if (bucket === undefined) {
        bucket = new DeadlineQueue();
        this.buckets.set(timeout, bucket);
      }
    }
    const slot = new Slot(call, bucket);
    this.calls.set(call.id, slot);
    if (this.calls.size === 1) this.onBusyChange?.(true);
    if (bucket === undefined) return;
    bucket.push(slot);
    if (call.deadline < this.armedFor) this.arm(call.deadline);
  }

  /** @internal Slots the deadline queue of `timeout` holds, settled calls' included (tests of its bound). */
  queuedFor(timeout: number): number {
    return this.buckets.get(timeout)?.held ?? 0;
  }

  has(call: C): boolean {
    return this.calls.get(call.id)?.call === call;
  }

  /** Removes and returns the call for a response, or undefined (and counts it) when it is gone. */
  take(id: number): C | undefined {
    const slot = this.calls.get(id);
    const call = slot?.call;
    if (call === undefined) {
      this.lateResponses++;
      return undefined;
    }
    this.remove(call, slot!);
    return call;
  }

  /** Settles `call` with `err` if it is still pending. Returns false when it had already settled. */
  fail(call: C, err: HeartlineError): boolean {
    const slot = this.calls.get(call.id);
    if (slot?.call !== call) return false;
    this.remove(call, slot);
    call.reject(withOrigin(err, call.request.origin));
    return true;
  }

  /**
   * Fails every pending call at once, each with CONNECTION_LOST_WRITTEN or
   * CONNECTION_LOST_UNWRITTEN depending on whether its frame reached the socket.
   */
  failAll(wasWritten: (seq: number) => boolean, why: string, cause?: unknown): void {
    for (const call of this.drainAll()) {
      const written = call.seq !== 0 && wasWritten(call.seq);
      const code: ErrorCode = written ? 'CONNECTION_LOST_WRITTEN' : 'CONNECTION_LOST_UNWRITTEN';
      const message = `${call.request.label}: ${why} (request ${written ? 'was written, outcome unknown' : 'was not written'})`;
      call.reject(withOrigin(new HeartlineError(code, message, { cause }), call.request.origin));
    }
  }

  /** Fails every pending call at once with (a copy of) `err`, keeping its code. */
  failAllWith(err: HeartlineError): void {
    for (const call of this.drainAll()) {
      const copy = new HeartlineError(err.code, `${call.request.label}: ${err.message}`, { cause: err, details: err.details, remote: err.remote });
      call.reject(withOrigin(copy, call.request.origin));
    }
  }

  /**
   * Removes every call (and its watch on its signal) without settling it or
   * calling `onSettle`: the caller takes over (re-sends calls that were never
   * written on another connection).
   */
  takeAll(): C[] {
    const calls: C[] = [];
    for (const slot of this.calls.values()) {
      calls.push(slot.call!);
      slot.call = undefined;
    }
    // In the order their ids were given (the table's is none): oldest first, across the wrap to 1.
    const after = this.ids.last;
    calls.sort((a, b) => ((a.id - after - 1) >>> 0) - ((b.id - after - 1) >>> 0));
    for (const call of calls) unlisten(call);
    this.calls.clear();
    this.buckets.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    if (calls.length > 0) this.onBusyChange?.(false);
    return calls;
  }

  /** Removes every call, calling each `onSettle`; the caller then rejects them. */
  private drainAll(): C[] {
    const calls = this.takeAll();
    for (const call of calls) call.request.onSettle?.(call.request);
    return calls;
  }

  /** `slot`: the call's own, just found in `calls` by the caller (not looked up again). */
  private remove(call: C, slot: Slot<C>): void {
    slot.call = undefined;
    if (slot.queue !== undefined) slot.queue.live--;
    this.calls.delete(call.id);
    unlisten(call);
    if (this.calls.size === 0) this.onBusyChange?.(false);
    call.request.onSettle?.(call.request);
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = setTimeout(expire, Math.max(1, Math.ceil(deadline - now())), this);
    this.timer.unref();
  }

  /** @internal The timer fired: time out every overdue call, then re-arm for the next deadline. */
  expireDue(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    // Timers have ms granularity and may fire a fraction of a ms before the deadline.
    const limit = now() + 1;
    const due: C[] = [];
    let next = Infinity;
    for (const [timeout, bucket] of this.buckets) {
      let overdue = 0;
      if (bucket.first() !== undefined) {
        for (const slot of bucket.liveSlots()) {
          const call = slot.call!;
          if (call.deadline > limit) {
            if (call.deadline < next) next = call.deadline;
            break;
          }
          due.push(call);
          overdue++;
        }
      }
      // Forget buckets that are or will be empty, so odd timeouts (failover's remaining time) do not pile up.
      // A call added later with this timeout makes a new bucket; the slots of this one are all settled or due.
      if (bucket.live === overdue) this.buckets.delete(timeout);
    }
    for (const call of due) this.onTimeout(call);
    if (next !== Infinity && next < this.armedFor) this.arm(next);
  }
}

function expire<C extends PendingCall>(table: PendingCalls<C>): void {
  table.expireDue();
}

/** Appends the caller's stack (captured when the call was made) to a late failure. */
export function withOrigin(err: HeartlineError, origin: Error | undefined): HeartlineError {
  if (origin?.stack !== undefined) {
    const callerFrames = origin.stack.slice(origin.stack.indexOf('\n') + 1);
    err.stack = `${err.name} [${err.code}]: ${err.message}\n${callerFrames}`;
  }
  return err;
}
