import { HeartlineError } from '../errors/heartline-error.js';
import type { Logger } from '../transport/logger.js';
import { logErr } from '../transport/log-fields.js';
import type { IncomingCall } from './server-call.js';
import type { ServerCall } from './server-interceptor.js';

/**
 * Decides whether a call may run: `true` (or a promise of it) lets it on; any
 * other answer, a throw or a rejection refuses it with PERMISSION_DENIED. It
 * sees the call as interceptors do (`call.principal`, `call.service`,
 * `call.method`, `call.attachments`), inside the call's scope, before any
 * interceptor, limit or handler runs.
 */
export type Authorize = (call: ServerCall) => boolean | Promise<boolean>;

/** The refusal a consumer gets: generic, whatever the hook said or threw. */
const PERMISSION_DENIED_MESSAGE = 'permission denied';

/** What the authorization stage needs of its connection. */
export interface AuthorizationHost {
  readonly log: Logger;
  settle(call: IncomingCall, failed: boolean, result: unknown): void;
}

/**
 * One call's way through its authorizers (the server's `authorize`, then the
 * service's), in order: each must answer `true`. Synchronous answers are
 * taken synchronously (no promise is made); a promise is waited for, and a
 * call that aborts meanwhile (its deadline, a Cancel, its connection closing)
 * settles with the abort reason and goes no further. A refusal settles the
 * call with PERMISSION_DENIED; a hook that throws or rejects is logged once
 * at warn. `onAllowed` runs once when every hook said yes.
 */
export class AuthorizationRun {
  constructor(
    private readonly call: IncomingCall,
    private readonly list: readonly Authorize[],
    private readonly host: AuthorizationHost,
    private readonly onAllowed: () => void,
  ) {}

  /** Asks hook `i` and those after it. */
  step(i: number): void {
    const { call, list } = this;
    for (; i < list.length; i++) {
      let verdict: unknown;
      let then: unknown;
      try {
        verdict = list[i]!(call);
        then = (typeof verdict === 'object' && verdict !== null) || typeof verdict === 'function' ? (verdict as { then?: unknown }).then : undefined;
      } catch (err) {
        this.deny(true, err);
        return;
      }
      if (typeof then === 'function') {
        this.wait(verdict as PromiseLike<unknown>, i);
        return;
      }
      if (verdict !== true) {
        this.deny(false);
        return;
      }
    }
    this.onAllowed();
  }

  private wait(verdict: PromiseLike<unknown>, i: number): void {
    const call = this.call;
    call.onAbort((reason) => this.host.settle(call, true, reason));
    // Promise.resolve().then: a `then` that throws becomes a rejection.
    Promise.resolve()
      .then(() => verdict)
      .then(
        (value) => {
          if (call.abortReason !== undefined) return; // settled with its abort reason
          // The wait is over: from here the call is aborted as any other (a handler without interceptors keeps its share).
          call.offAbort();
          if (value === true) this.step(i + 1);
          else this.deny(false);
        },
        (err: unknown) => {
          if (call.abortReason !== undefined) return;
          call.offAbort();
          this.deny(true, err);
        },
      );
  }

  private deny(threw: boolean, thrown?: unknown): void {
    const call = this.call;
    if (threw) {
      try {
        this.host.log.warn(
          { service: call.service, method: call.method, err: logErr(thrown) },
          `authorize for ${call.service}#${call.method} threw (${describe(thrown)}): call from ${call.peer} refused with PERMISSION_DENIED`,
        );
      } catch {
        // a throwing logger must not leave the call unanswered
      }
    }
    this.host.settle(call, true, new HeartlineError('PERMISSION_DENIED', PERMISSION_DENIED_MESSAGE));
  }
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : typeof err;
  } catch {
    return 'an unreadable error';
  }
}
