import { timeLeftUntil } from '../context/call-info.js';
import { currentScope, type CallScope } from '../context/call-scope.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { unwatchAbort, watchAbort, type AbortWatcher } from '../exchange/abort-watch.js';
import { cancelledError, signalReason } from '../exchange/connection-call.js';
import type { Attachments } from '../protocol/messages.js';
import { trimArgs } from '../protocol/value-check.js';
import { now } from '../transport/clock.js';
import { validateCallChanges, type ValidCallOptions } from './call-options.js';
import type { ClientCall, ClientCallChanges } from './client-interceptor.js';

/** One method of one reference, its options resolved (method, then reference, then client); cached by the reference. */
export interface MethodTarget {
  readonly service: string;
  readonly version: string;
  readonly group: string;
  readonly method: string;
  /** `service#method`: the label in messages, `err.call`, and the key of active counts. */
  readonly label: string;
  /** ms; 0 for none. */
  readonly timeout: number;
  readonly oneWay: boolean;
  readonly idempotent: boolean;
  /** Attempts failover may make (1 + retries; 1 for failfast and failsafe). */
  readonly attempts: number;
  /** Cap on the method's calls in flight to one provider (Infinity for none). */
  readonly actives: number;
  /** Cap on the service's calls in flight to one provider (Infinity for none). */
  readonly serviceActives: number;
  /** Positions of callback arguments, or undefined. */
  readonly callbacks: readonly number[] | undefined;
  /** The reference's attachments (`NO_ATTACHMENTS` for none). */
  readonly attachments: Readonly<Attachments>;
  /** The encoded start of its requests (`requestPrefix`: array header and the four names), made once; absent when too long. */
  readonly prefix?: Uint8Array | undefined;
}

/** Attachments of a call that has none: sent as nil. */
export const NO_ATTACHMENTS: Readonly<Attachments> = Object.freeze({});

/**
 * Links that make one signal of a call's own and the served call's (inside a
 * handler): undone when the logical call settles, so a long-lived signal
 * passed to many calls keeps no listener per call.
 */
export class SignalLinks {
  private readonly links: SignalLink[] = [];
  /** The call settled: nothing would undo a link made now (a copy made later by an interceptor that kept the call). */
  private unlinked = false;

  /** One signal that fires when `own` or `inherited` does (after the call settled: `own`, unlinked). */
  combine(own: AbortSignal | undefined, inherited: AbortSignal | undefined): AbortSignal | undefined {
    if (own === undefined || own.aborted) return own ?? inherited;
    if (inherited === undefined || inherited.aborted) return inherited ?? own;
    if (this.unlinked) return own;
    const link = new SignalLink(own, inherited);
    this.links.push(link);
    return link.signal;
  }

  /** The call settled: remove every listener these links added. */
  unlink(): void {
    this.unlinked = true;
    for (const link of this.links) link.unlink();
    this.links.length = 0;
  }
}

class SignalLink implements AbortWatcher {
  private readonly controller = new AbortController();
  constructor(
    private readonly a: AbortSignal,
    private readonly b: AbortSignal,
  ) {
    watchAbort(a, this);
    watchAbort(b, this);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  onAbort(fired: AbortSignal): void {
    this.unlink();
    this.controller.abort(signalReason(fired));
  }

  unlink(): void {
    unwatchAbort(this.a, this);
    unwatchAbort(this.b, this);
  }
}

function deadlineOf(timeout: number, scope: CallScope | undefined, at: number): number {
  const own = timeout > 0 ? at + timeout : Infinity;
  return scope === undefined || scope.deadline >= own ? own : scope.deadline;
}

/**
 * One logical consumer call: immutable. It enters the interceptor chain, then
 * the cluster stage, which turns it into attempts. `with()` makes a changed
 * copy. Outside a handler, with no per-call options, making one costs one
 * object (no AbortController, no closure).
 */
export class ClientInvocation implements ClientCall {
  constructor(
    readonly target: MethodTarget,
    readonly args: readonly unknown[],
    readonly attachments: Readonly<Attachments>,
    readonly timeout: number,
    readonly deadline: number,
    /** The call's own signal combined with the served call's (inside a handler). */
    readonly signal: AbortSignal | undefined,
    /** The caller's stack (`stackTraces: 'eager'`), appended to a late failure. */
    readonly origin: Error | undefined,
    /** The served call's scope, when made inside a handler. */
    readonly scope: CallScope | undefined,
    /** Shared by every copy of one call (`with`); present only inside a handler. */
    readonly links: SignalLinks | undefined,
  ) {}

  /**
   * The invocation of a call made now (`at`, clock ms): its own options over
   * the method's, limited by the served call's deadline and signal.
   */
  static create(target: MethodTarget, args: unknown[], options: ValidCallOptions | undefined, origin: Error | undefined, at: number = now()): ClientInvocation {
    const scope = currentScope();
    args = trimArgs(args); // trailing undefined arguments are dropped, so that the handler's parameter defaults apply
    if (options === undefined && scope === undefined) {
      const timeout = target.timeout;
      return new ClientInvocation(target, args, target.attachments, timeout, timeout > 0 ? at + timeout : Infinity, undefined, origin, undefined, undefined);
    }
    const timeout = options?.timeout ?? target.timeout;
    const own = options?.attachments;
    const attachments = own === undefined ? target.attachments : target.attachments === NO_ATTACHMENTS ? own : Object.freeze({ ...target.attachments, ...own });
    const links = scope === undefined ? undefined : new SignalLinks();
    const signal = links === undefined ? options?.signal : links.combine(options?.signal, scope!.signal);
    return new ClientInvocation(target, args, attachments, timeout, deadlineOf(timeout, scope, at), signal, origin, scope, links);
  }

  get service(): string {
    return this.target.service;
  }

  get version(): string {
    return this.target.version;
  }

  get group(): string {
    return this.target.group;
  }

  get method(): string {
    return this.target.method;
  }

  get oneWay(): boolean {
    return this.target.oneWay;
  }

  get idempotent(): boolean {
    return this.target.idempotent;
  }

  get timeLeft(): number {
    return timeLeftUntil(this.deadline);
  }

  with(changes: ClientCallChanges): ClientCall {
    const c = validateCallChanges(changes);
    const timeout = c.timeout ?? this.timeout;
    const deadline = c.timeout === undefined ? this.deadline : deadlineOf(timeout, this.scope, now());
    let signal = this.signal;
    if (c.hasSignal) signal = this.links === undefined ? c.signal : this.links.combine(c.signal, this.scope!.signal);
    const args = c.args === undefined ? this.args : trimArgs([...c.args]);
    return new ClientInvocation(this.target, args, c.attachments ?? this.attachments, timeout, deadline, signal, this.origin, this.scope, this.links);
  }

  /**
   * Why this call must not be sent now, or undefined: its signal fired
   * (CANCELLED), or its deadline passed by `at` (clock ms: now; DEADLINE_EXCEEDED: nothing was written).
   */
  refusal(at: number): HeartlineError | undefined {
    if (this.signal?.aborted === true) return cancelledError(this.target.label, this.signal);
    if (this.deadline !== Infinity && this.deadline <= at) {
      return new HeartlineError('DEADLINE_EXCEEDED', `${this.target.label}: its deadline passed before it was sent${this.scope !== undefined && this.scope.deadline <= this.deadline ? ' (inherited from the call being served)' : ''}`);
    }
    return undefined;
  }
}
