import { HeartlineError } from '../errors/heartline-error.js';
import { trimHead } from './trim-head.js';
import { unwatchAbort, type AbortWatcher } from './abort-watch.js';
import type { ClientConnection } from './client-connection.js';
import { withOrigin, type CallRequest, type PendingCall } from './pending-calls.js';

/** One call, encoded for the connection it is handed to, and ready for the wire. */
export interface OutgoingCall extends CallRequest {
  /**
   * The MessagePack request body (protocol version 2: seven items). When
   * `deadline` is finite its last item is the budget placeholder, set at
   * write time to the ms left; a connection that agreed version 1 writes a
   * six-item copy instead.
   */
  readonly body: Buffer;
  readonly oneWay: boolean;
  /** When the caller gives up on this call (clock ms); Infinity for none (the body's budget item is then nil). */
  readonly deadline: number;
  /**
   * Callbacks this call registered on the connection for the first time: if
   * the call fails before it is written, the provider never saw them, so they
   * are forgotten again (else they would hold a `maxCallbacks` slot, and the
   * process, for the connection's life).
   */
  fresh?: Function[] | undefined;
  /**
   * The same call encoded again for another connection (callback ids belong
   * to a connection), with the time left: used to move a call that was never
   * written. Throws when it cannot be encoded there.
   */
  moveTo(conn: ClientConnection): OutgoingCall;
}

/** What a call needs of its connection: to be cancelled there, and to count its outcome there. */
export interface CallOwner {
  cancel(call: ConnectionCall): void;
  /** Calls settled on this connection (`callsDone` of `connections()`). */
  callsDone: number;
  /** A call settled here with `err`: counted, and kept as the connection's `lastError`. */
  callFailed(err: HeartlineError): void;
}

/**
 * Where a call's outcome goes: the promise `ClientConnection.call` returns,
 * or the caller's own (`ClientConnection.send`), so that one logical call
 * needs one promise, not one per layer. Each is called at most once per
 * call, possibly synchronously from `send` (a refusal).
 */
export interface CallSink {
  resolve(value: unknown): void;
  reject(err: HeartlineError): void;
}

/**
 * A call accepted by a connection: a two-way one sits in the pending table
 * until it settles; a one-way one is `done` once written or failed. It is
 * its own watcher of the call's signal (abort-watch.ts: no closure per call).
 */
export class ConnectionCall implements PendingCall<OutgoingCall>, AbortWatcher {
  seq = 0;
  deadline = Infinity;
  /** One-way calls only: settled (the pending table tracks two-way calls). */
  done = false;
  constructor(
    private readonly owner: CallOwner,
    readonly id: number,
    readonly request: OutgoingCall,
    /** Where its outcome goes; a call moved to another connection hands it on (uncounted here). */
    readonly sink: CallSink,
  ) {}

  /** Settles the call with its value, counted on its connection. */
  resolve(value: unknown): void {
    this.owner.callsDone++;
    this.sink.resolve(value);
  }

  /** Settles the call with `err`, counted (and kept as `lastError`) on its connection. */
  reject(err: HeartlineError): void {
    this.owner.callFailed(err);
    this.sink.reject(err);
  }

  onAbort(): void {
    this.owner.cancel(this);
  }
}

/**
 * The one-way calls of a connection that have not settled: accepted (waiting
 * for the handshake or queued in the writer). Those queued settle, in write
 * order, when the writer hands their frames to the socket.
 */
export class OneWayCalls {
  /** Accepted and not settled. */
  open = 0;
  /** Queued in the writer, in write order, from `head` on. */
  private queued: ConnectionCall[] = [];
  private head = 0;

  accept(): void {
    this.open++;
  }

  /** The call's frame is in the writer (its `seq` set). */
  queue(call: ConnectionCall): void {
    this.queued.push(call);
  }

  /** Settles `call` once: resolved when `err` is undefined. Returns false when it had settled already. */
  settle(call: ConnectionCall, err: HeartlineError | undefined): boolean {
    if (call.done) return false;
    call.done = true;
    this.open--;
    const out = call.request;
    if (out.signal !== undefined) unwatchAbort(out.signal, call);
    out.onSettle?.(out);
    if (err === undefined) call.resolve(undefined);
    else call.reject(withOrigin(err, out.origin));
    return true;
  }

  /** The writer handed every frame up to `flushedSeq` to the socket: resolves the calls among them. True when any was queued. */
  flushed(flushedSeq: number): boolean {
    const q = this.queued;
    const head = this.head;
    let i = head;
    while (i < q.length && q[i]!.seq <= flushedSeq) this.settle(q[i++]!, undefined);
    this.head = trimHead(q, i);
    return i > head;
  }

  /** Removes and returns the calls still queued (the connection closed before they were written). */
  takeQueued(): ConnectionCall[] {
    const rest = this.queued.slice(this.head);
    this.queued = [];
    this.head = 0;
    return rest;
  }
}

/** The error of a call whose signal fired: CANCELLED, with the signal's reason as its cause. */
export function cancelledError(label: string, signal: AbortSignal | undefined): HeartlineError {
  return new HeartlineError('CANCELLED', `${label}: cancelled by its signal`, { cause: signal === undefined ? undefined : signalReason(signal) });
}

/** `signal.reason`, or what reading it threw: user code (a getter) must not stop a cancellation halfway. */
export function signalReason(signal: AbortSignal): unknown {
  try {
    return signal.reason;
  } catch (err) {
    return err;
  }
}
