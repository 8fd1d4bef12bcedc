import { timeLeftUntil } from '../context/call-info.js';
import { currentScope, type CallScope } from '../context/call-scope.js';
import { HeartlineError } from '../errors/heartline-error.js';
import type { Attachments, RequestBody } from '../protocol/messages.js';
import { now } from '../transport/clock.js';
import type { ServerCall } from './server-interceptor.js';

/** Longest delay Node's setTimeout takes (about 24.8 days); a later deadline is reached in steps. */
const MAX_TIMER_DELAY = 0x7fffffff;
const NO_ATTACHMENTS: Readonly<Attachments> = Object.freeze({});

/** Where a call comes from: the connection that read it. */
export interface CallOrigin {
  readonly id: number;
  readonly peer: string;
  /** The connection's principal (`authenticate`), undefined when anonymous. */
  readonly principal?: unknown;
}

/**
 * The context stage: one call a provider serves, from the moment its request
 * is read until its outcome is known. It is what interceptors receive, what
 * `currentCall()` returns inside the handler, and the scope (deadline and
 * signal) that consumer calls made there inherit.
 *
 * deadline = time of receipt + the request's `budget` (Infinity without one).
 * The signal is made only when first read; it then owns one unref'd timer
 * for a finite deadline, cleared when the call finishes or aborts. It fires,
 * with a HeartlineError as its reason, on the first of: a Cancel frame
 * (CANCELLED), the deadline (DEADLINE_EXCEEDED), the consumer's connection
 * closing (CONNECTION_LOST_WRITTEN), the server's grace period ending
 * (SERVER_CLOSED). A call that finished no longer aborts.
 */
export class IncomingCall implements ServerCall, CallScope {
  readonly service: string;
  readonly version: string;
  readonly group: string;
  readonly method: string;
  readonly args: unknown[];
  readonly attachments: Readonly<Attachments>;
  readonly deadline: number;
  readonly peer: string;
  readonly connectionId: number;
  readonly oneWay: boolean;
  principal: unknown;
  /** @internal The request id on its connection. */
  readonly id: number;
  /** @internal When the request was read, on the `now()` clock (ms). */
  readonly receivedAt: number;
  /** @internal Set when the handler is called: a failure from then on is the handler's (failureResponse's hop rule). */
  handlerStarted = false;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reason: HeartlineError | undefined;
  private finished = false;
  private abortListener: ((reason: HeartlineError) => void) | undefined;

  constructor(id: number, request: RequestBody, origin: CallOrigin, oneWay: boolean, receivedAt: number) {
    this.id = id;
    this.service = request[0];
    this.version = request[1];
    this.group = request[2];
    this.method = request[3];
    this.args = request[4];
    this.attachments = request[5] ?? NO_ATTACHMENTS;
    this.receivedAt = receivedAt;
    const budget = request[6];
    this.deadline = budget === undefined || budget === null ? Infinity : receivedAt + budget;
    this.peer = origin.peer;
    this.connectionId = origin.id;
    this.principal = origin.principal;
    this.oneWay = oneWay;
  }

  get timeLeft(): number {
    return timeLeftUntil(this.deadline);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
      else this.armDeadline();
    }
    return this.controller.signal;
  }

  /** @internal The request came with a budget of 0: its caller has no time left. */
  get budgetSpent(): boolean {
    return this.deadline === this.receivedAt;
  }

  /** @internal Why the call was aborted, if it was (a Cancel frame, its connection closed, the grace period ended, or its deadline fired). */
  get abortReason(): HeartlineError | undefined {
    return this.reason;
  }

  /**
   * @internal True when nobody waits for this call's response any more: it was
   * aborted, or its deadline (from a budget above 0) has passed.
   */
  get abandoned(): boolean {
    if (this.reason !== undefined) return true;
    const d = this.deadline;
    return d !== Infinity && d > this.receivedAt && now() >= d;
  }

  /** @internal Fires the signal with `reason` (the first reason wins); nothing once the call finished. */
  abort(reason: HeartlineError): void {
    if (this.finished || this.reason !== undefined) return;
    this.reason = reason;
    this.clearTimer();
    this.controller?.abort(reason);
    this.abortListener?.(reason);
  }

  /**
   * @internal Calls `listener` once if the call aborts before it finishes,
   * the deadline included (a timer is armed for it, as for the signal).
   */
  onAbort(listener: (reason: HeartlineError) => void): void {
    this.abortListener = listener;
    this.armDeadline();
  }

  /**
   * @internal Forgets the `onAbort` listener (its wait is over); the deadline
   * timer stays only for a signal already read (reading it later arms it).
   */
  offAbort(): void {
    this.abortListener = undefined;
    if (this.controller === undefined) this.clearTimer();
  }

  /** @internal The call's outcome is known: clears its timer; returns false if it had finished already (exactly once). */
  finish(): boolean {
    if (this.finished) return false;
    this.finished = true;
    this.abortListener = undefined;
    this.clearTimer();
    return true;
  }

  /** @internal The deadline timer fired: abort, or wait again if setTimeout could not reach the deadline in one step. */
  deadlineReached(): void {
    this.timer = undefined;
    const left = this.deadline - now();
    if (left > 0) this.timer = startTimer(this, left);
    else this.abort(new HeartlineError('DEADLINE_EXCEEDED', `${this.service}#${this.method}: the caller's deadline passed`));
  }

  private armDeadline(): void {
    if (this.timer !== undefined || this.finished || this.reason !== undefined || this.deadline === Infinity) return;
    const left = this.deadline - now();
    if (left > 0) this.timer = startTimer(this, left);
    else this.deadlineReached();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

function startTimer(call: IncomingCall, ms: number): NodeJS.Timeout {
  const timer = setTimeout(onDeadline, Math.min(Math.ceil(ms), MAX_TIMER_DELAY), call);
  timer.unref();
  return timer;
}

function onDeadline(call: IncomingCall): void {
  call.deadlineReached();
}

/**
 * The call being served, inside a handler or an interceptor (and the async
 * work they start): service, method, attachments, deadline, signal, peer...
 * Undefined outside any call.
 */
export function currentCall(): ServerCall | undefined {
  const scope = currentScope();
  return scope instanceof IncomingCall ? scope : undefined;
}
