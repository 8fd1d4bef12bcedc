import { runInScope } from '../context/call-scope.js';
import { callHandler, HandlerRun, startHandler } from '../exchange/responder.js';
import { AuthorizationRun, type AuthorizationHost } from './authorization.js';
import { enterLimits, leaveLimits, type LimitsHost } from './call-limits.js';
import type { IncomingCall } from './server-call.js';
import type { ServerInterceptor } from './server-interceptor.js';
import type { ExportedMethod } from './service-registry.js';

/** What the pipeline needs of the connection a call came on: the authorization and limits stages' needs (the callback proxies and their cap, hearing a refusal), and hearing the outcome. */
export interface CallHost extends AuthorizationHost, LimitsHost {
  /**
   * Hears the call's outcome: its value, or what it failed with. The
   * pipeline may call it more than once for one call (an abandoned chain
   * that settles late); the host acts on the first (`call.finish()`).
   */
  settle(call: IncomingCall, failed: boolean, result: unknown): void;
}

/**
 * Runs a decoded call through its stages, inside the call's scope when
 * `scoped` (the server's `callScope`, so that `currentCall()` and the
 * consumer calls made by interceptors and the handler see its deadline and
 * signal; without it they see no call at all): authorization (the server's
 * `authorize`, then the service's: a refusal is PERMISSION_DENIED before any
 * user code of the call runs) → interceptors (server-wide, then the
 * service's) → limits (callback cap, `executes`) → handler. The interceptors
 * come before the limits so that a call an interceptor refuses (an
 * authentication check) never holds a slot, and so that an interceptor
 * observing calls (metrics, logs) also sees the calls the limits refuse.
 *
 * With no interceptor the path is the plain callback one: no promise is made
 * for the call. With interceptors, a chain that does not settle is abandoned
 * when the call aborts (its deadline, a Cancel, its connection closing, the
 * server's grace period ending): the call then settles with the abort reason
 * and frees its connection's `maxConcurrentCalls` share; a handler already
 * started keeps its `executes` slots until it settles itself. Without a
 * deadline, such a call lasts until its connection closes.
 */
export function serveCall(call: IncomingCall, method: ExportedMethod, host: CallHost, scoped: boolean): void {
  // Only a service with an `authorize` (its own or the server's) pays for it: one property read otherwise.
  const authorizers = method.service.authorizers;
  if (authorizers !== undefined) {
    const run = new AuthorizationRun(call, authorizers, host, () => proceed(call, method, host));
    if (scoped) runInScope(call, firstStep, run);
    else run.step(0);
    return;
  }
  if (method.service.interceptors.length === 0) {
    // The common path: one object for the stage, and no closure to enter the scope with.
    const run = new DirectRun(call, method, host);
    if (scoped) runInScope(call, startDirect, run);
    else run.start();
    return;
  }
  if (scoped) runInScope(call, startIntercepted, new ChainRun(call, method, host));
  else runIntercepted(new ChainRun(call, method, host));
}

/** Past authorization, inside the call's scope (if any): the interceptors, or straight to the limits and handler. */
function proceed(call: IncomingCall, method: ExportedMethod, host: CallHost): void {
  if (method.service.interceptors.length === 0) new DirectRun(call, method, host).start();
  else runIntercepted(new ChainRun(call, method, host));
}

function firstStep(run: AuthorizationRun): void {
  run.step(0);
}

function startDirect(run: DirectRun): void {
  run.start();
}

function startIntercepted(run: ChainRun): void {
  runIntercepted(run);
}

/** A call without interceptors: limits, then the handler, heard by this object itself (no closure per call). */
class DirectRun extends HandlerRun {
  constructor(
    private readonly call: IncomingCall,
    private readonly method: ExportedMethod,
    private readonly host: CallHost,
  ) {
    super();
  }

  start(): void {
    const { call, method, host } = this;
    const refusal = enterLimits(method, call, host);
    if (refusal !== undefined) {
      host.settle(call, true, refusal);
      return;
    }
    call.handlerStarted = true;
    startHandler(method.handler, method.service.instance, call.args, this);
  }

  protected settled(failed: boolean, result: unknown): void {
    leaveLimits(this.method);
    this.host.settle(this.call, failed, result);
  }
}

function runIntercepted(run: ChainRun): void {
  const { call, host } = run;
  call.onAbort((reason) => host.settle(call, true, reason));
  run.step(0).then(
    (value) => host.settle(call, false, value),
    (err: unknown) => host.settle(call, true, err),
  );
}

/**
 * One call's way through its interceptors (the onion: interceptor i's `next`
 * runs i + 1, the last one's runs the limits and the handler). Methods, not
 * per-call named closures: esbuild's keepNames (tsx) would name each one.
 */
class ChainRun {
  /** Read once: a `server.use()` during the call does not change its chain. */
  private readonly list: readonly ServerInterceptor[];

  constructor(
    readonly call: IncomingCall,
    private readonly method: ExportedMethod,
    readonly host: CallHost,
  ) {
    this.list = method.service.interceptors;
  }

  /** Runs interceptor `i` (or the end of the chain); a synchronous throw is a rejection like any other. */
  step(i: number): Promise<unknown> {
    const list = this.list;
    if (i === list.length) return this.terminal();
    try {
      return Promise.resolve(list[i]!(this.call, () => this.step(i + 1)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The end of the chain: limits, then the handler. `next()` after the call was abandoned starts nothing. */
  private terminal(): Promise<unknown> {
    const { call, method } = this;
    if (call.abortReason !== undefined) return Promise.reject(call.abortReason);
    const refusal = enterLimits(method, call, this.host);
    if (refusal !== undefined) return Promise.reject(refusal);
    call.handlerStarted = true;
    return new Promise((resolve, reject) =>
      callHandler(method.handler, method.service.instance, call.args, (failed, result) => {
        leaveLimits(method);
        if (failed) reject(result);
        else resolve(result);
      }),
    );
  }
}
