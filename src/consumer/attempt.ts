import { HeartlineError } from '../errors/heartline-error.js';
import type { ClientConnection } from '../exchange/client-connection.js';
import type { OutgoingCall } from '../exchange/connection-call.js';
import { encodeBody } from '../protocol/codec.js';
import { encodeRequest as encodeWithPrefix, requestTuple } from '../protocol/messages.js';
import { checkArgs, OMIT_UNDEFINED } from '../protocol/value-check.js';
import { now } from '../transport/clock.js';
import type { ActiveCounter } from './active-limiter.js';
import { NO_ATTACHMENTS, type ClientInvocation } from './invocation.js';

/**
 * An invocation checked and encoded once, for all of its attempts. Without
 * callbacks the body is encoded here: the first attempt takes it as is, any
 * other gets a copy (the budget item is patched in place at write time, and
 * an earlier attempt's frame may still be queued). With callbacks, each
 * attempt encodes for its own connection (callback ids belong to one).
 */
export class PreparedCall {
  private bodyTaken = false;

  private constructor(
    readonly invocation: ClientInvocation,
    private readonly body: Buffer | undefined,
    private readonly omitUndefined: boolean,
  ) {}

  /** Checks and encodes `inv`; a SERIALIZATION_ERROR when its arguments cannot be sent (nothing is written). */
  static prepare(inv: ClientInvocation): PreparedCall | HeartlineError {
    const t = inv.target;
    const positions = t.callbacks;
    const args = inv.args;
    if (positions !== undefined) {
      for (const i of positions) {
        if (typeof args[i] !== 'function') return new HeartlineError('SERIALIZATION_ERROR', `${t.label}: argument ${i} must be a function (a callback)`);
      }
    }
    try {
      // Refused before anything is written: a value the provider would receive changed (value-check.ts).
      const check = checkArgs(args, positions);
      if (typeof check === 'string') return new HeartlineError('SERIALIZATION_ERROR', `${t.label}: ${check}`);
      const omitUndefined = check === OMIT_UNDEFINED;
      const body = positions === undefined ? encodeRequest(inv, args, omitUndefined) : undefined;
      return new PreparedCall(inv, body, omitUndefined);
    } catch (err) {
      // A getter or proxy in the arguments threw, or msgpackr refused what the check let through.
      return new HeartlineError('SERIALIZATION_ERROR', `${t.label}: arguments could not be encoded: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * The body of an attempt on `conn`; the callbacks it registered there for
   * the first time are pushed onto `fresh`. Throws LIMIT_EXCEEDED (callback
   * cap) or an encoding error; then nothing stays registered.
   */
  bodyFor(conn: ClientConnection, fresh: Function[]): Buffer {
    const positions = this.invocation.target.callbacks;
    if (positions === undefined) {
      if (!this.bodyTaken) {
        this.bodyTaken = true;
        return this.body!;
      }
      return Buffer.from(this.body!);
    }
    const args = this.invocation.args;
    const ids = conn.callbacks.registerAll(positions.map((i) => args[i] as Function), fresh);
    try {
      return encodeRequest(this.invocation, args.map((a, i) => (positions.includes(i) ? ids[positions.indexOf(i)] : a)), this.omitUndefined);
    } catch (err) {
      for (const fn of fresh) conn.callbacks.release(fn);
      fresh.length = 0;
      throw err;
    }
  }
}

function encodeRequest(inv: ClientInvocation, args: readonly unknown[], omitUndefined: boolean): Buffer {
  const t = inv.target;
  const attachments = inv.attachments === NO_ATTACHMENTS ? undefined : inv.attachments;
  // The budget placeholder is there exactly when the call has a deadline: OutgoingCall.deadline is then finite.
  if (t.prefix !== undefined) return encodeWithPrefix(t.prefix, args as unknown[], attachments, inv.deadline !== Infinity, omitUndefined);
  return encodeBody(requestTuple(t.service, t.version, t.group, t.method, args as unknown[], attachments, inv.deadline !== Infinity), omitUndefined);
}

/** The `fresh` list of an attempt without callbacks: bodyFor never pushes onto it. */
const NO_FRESH: Function[] = Object.freeze([]) as unknown as Function[];

/** Where an attempt gives its active slots back (its endpoint). */
export interface SlotOwner {
  release(methodCounter: ActiveCounter, serviceCounter: ActiveCounter | undefined): void;
}

/**
 * How much later than an inherited deadline an attempt's own timer fires, in
 * ms. The served call's deadline timer and this attempt's timer are armed in
 * different ticks, and Node starts each from the loop's cached time, which
 * lags the clock by however long the tick has run: under load (GC, a busy
 * loop) the later-armed timer can expire first by that lag. The grace covers
 * lags up to this much, so the handler sees its signal fire first; the local
 * timer is only the backstop (for a call that outlives its handler).
 */
const INHERITED_GRACE_MS = 50;

/**
 * One attempt of a call, encoded for the connection it is handed to. It
 * holds its provider's active slots from admission until it settles
 * (`onSettle`, called once by the connection); moved to another connection
 * before it was written, it is encoded again there and the new attempt
 * takes the slots over.
 */
export class Attempt implements OutgoingCall {
  readonly body: Buffer;
  /** ms, for the connection's pending table; 0 for none. */
  readonly timeout: number;
  fresh: Function[] | undefined;
  private released = false;

  /** Throws (LIMIT_EXCEEDED, or an encoding error) when the call cannot be encoded for `conn`. `at`: now (clock ms). */
  constructor(
    /** @internal The call it is an attempt of (the endpoint sends it again after a refusal that crossed an expiry drain). */
    readonly prepared: PreparedCall,
    conn: ClientConnection,
    readonly deadline: number,
    private readonly owner: SlotOwner,
    private readonly methodCounter: ActiveCounter,
    private readonly serviceCounter: ActiveCounter | undefined,
    at: number,
  ) {
    if (prepared.invocation.target.callbacks === undefined) {
      this.body = prepared.bodyFor(conn, NO_FRESH); // no callbacks: nothing is registered (no array per attempt)
      this.fresh = undefined;
    } else {
      const fresh: Function[] = [];
      this.body = prepared.bodyFor(conn, fresh);
      this.fresh = fresh.length > 0 ? fresh : undefined; // forgotten again by the connection if this attempt is never written
    }
    // When this attempt's deadline is the served call's (inside a handler), the served call's own timer,
    // armed when its signal was linked to this call, fires first: the handler sees its signal fire, and
    // this call is cancelled through it. The local timer only backs that up, INHERITED_GRACE_MS later.
    const inherited = prepared.invocation.scope !== undefined && deadline >= prepared.invocation.scope.deadline;
    // `deadline` may be `at + timeout` from this same clock read: (at + 300) - at can be 300.00000000003 in
    // floating point, which must not round up to 301 ms. Sub-microsecond differences are noise.
    this.timeout = deadline === Infinity ? 0 : Math.max(1, Math.ceil(deadline - at - 1e-6)) + (inherited ? INHERITED_GRACE_MS : 0);
  }

  get label(): string {
    return this.prepared.invocation.target.label;
  }

  get oneWay(): boolean {
    return this.prepared.invocation.target.oneWay;
  }

  get origin(): Error | undefined {
    return this.prepared.invocation.origin;
  }

  get signal(): AbortSignal | undefined {
    return this.prepared.invocation.signal;
  }

  /** Gives the active slots back, once. */
  onSettle(): void {
    if (this.released) return;
    this.released = true;
    this.owner.release(this.methodCounter, this.serviceCounter);
  }

  moveTo(conn: ClientConnection): Attempt {
    const moved = new Attempt(this.prepared, conn, this.deadline, this.owner, this.methodCounter, this.serviceCounter, now());
    this.released = true; // the slots are the new attempt's now
    return moved;
  }
}

/** Why an attempt could not be encoded for its connection: the cap's own error (LIMIT_EXCEEDED), else SERIALIZATION_ERROR. */
export function encodeError(label: string, err: unknown): HeartlineError {
  return err instanceof HeartlineError
    ? new HeartlineError(err.code, `${label}: ${err.message}`, { cause: err })
    : new HeartlineError('SERIALIZATION_ERROR', `${label}: arguments could not be encoded: ${(err as Error).message}`, { cause: err });
}
