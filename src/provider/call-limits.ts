import { HeartlineError } from '../errors/heartline-error.js';
import type { RefusedLimit } from '../context/channels.js';
import type { CallbackProxies } from './callback-proxies.js';
import type { IncomingCall } from './server-call.js';
import type { ExportedMethod } from './service-registry.js';

/** What the limits stage needs of the call's connection. */
export interface LimitsHost {
  /** The connection's callback proxies, and their cap. */
  readonly callbacks: CallbackProxies;
  /** The call was refused at `limit` (told before it settles, for `heartline:server:refuse`). */
  refused(limit: RefusedLimit, call: IncomingCall): void;
}

/**
 * The limits stage, just before the handler: the connection's callback cap
 * (`maxCallbacks`), then the service's and the method's `executes` caps. A
 * call over one is refused with LIMIT_EXCEEDED (retry-safe: the handler did
 * not run) and holds nothing. An admitted call holds a slot of each cap until
 * `leaveLimits` (exactly once, when its handler settles), and its callback
 * ids are turned into functions (proxies are made only for calls that run).
 */
export function enterLimits(method: ExportedMethod, call: IncomingCall, host: LimitsHost): HeartlineError | undefined {
  const args = call.args;
  const callbacks = host.callbacks;
  const positions = method.callbacks;
  // Only the ids still to turn into functions: an interceptor calling next() again runs the limits again on the same
  // args, whose ids the first run already turned into (the same) proxies.
  if (positions !== undefined && !callbacks.hasRoomFor(idsAt(args, positions))) {
    host.refused('maxCallbacks', call);
    return new HeartlineError('LIMIT_EXCEEDED', `this connection holds its limit of ${callbacks.limit} callbacks`);
  }
  const serviceCap = method.service.executes;
  const methodCap = method.executes;
  if (serviceCap !== undefined && !serviceCap.tryEnter()) {
    host.refused('executes', call);
    return new HeartlineError('LIMIT_EXCEEDED', `${method.service.definition.name} is executing its limit of ${serviceCap.limit} calls`);
  }
  if (methodCap !== undefined && !methodCap.tryEnter()) {
    serviceCap?.leave();
    host.refused('executes', call);
    return new HeartlineError('LIMIT_EXCEEDED', `${method.service.definition.name}#${method.name} is executing its limit of ${methodCap.limit} calls`);
  }
  if (positions !== undefined) {
    for (const i of positions) if (typeof args[i] === 'number') args[i] = callbacks.get(args[i] as number);
  }
  return undefined;
}

/** The callback ids at `positions` that are still ids (not yet proxies). */
function idsAt(args: unknown[], positions: readonly number[]): number[] {
  const ids: number[] = [];
  for (const i of positions) if (typeof args[i] === 'number') ids.push(args[i] as number);
  return ids;
}

/** Gives back the `executes` slots `enterLimits` took. */
export function leaveLimits(method: ExportedMethod): void {
  method.service.executes?.leave();
  method.executes?.leave();
}
