import { HeartlineError } from '../errors/heartline-error.js';
import type { CallbackProxies } from './callback-proxies.js';
import type { ExportedMethod } from './service-registry.js';

/**
 * The limits stage, just before the handler: the connection's callback cap
 * (`maxCallbacks`), then the service's and the method's `executes` caps. A
 * call over one is refused with LIMIT_EXCEEDED (retry-safe: the handler did
 * not run) and holds nothing. An admitted call holds a slot of each cap until
 * `leaveLimits` (exactly once, when its handler settles), and its callback
 * ids are turned into functions (proxies are made only for calls that run).
 */
export function enterLimits(method: ExportedMethod, args: unknown[], callbacks: CallbackProxies): HeartlineError | undefined {
  const positions = method.callbacks;
  if (positions !== undefined && !callbacks.hasRoomFor(positions.map((i) => args[i] as number))) {
    return new HeartlineError('LIMIT_EXCEEDED', `this connection holds its limit of ${callbacks.limit} callbacks`);
  }
  const serviceCap = method.service.executes;
  const methodCap = method.executes;
  if (serviceCap !== undefined && !serviceCap.tryEnter()) {
    return new HeartlineError('LIMIT_EXCEEDED', `${method.service.definition.name} is executing its limit of ${serviceCap.limit} calls`);
  }
  if (methodCap !== undefined && !methodCap.tryEnter()) {
    serviceCap?.leave();
    return new HeartlineError('LIMIT_EXCEEDED', `${method.service.definition.name}#${method.name} is executing its limit of ${methodCap.limit} calls`);
  }
  if (positions !== undefined) for (const i of positions) args[i] = callbacks.get(args[i] as number);
  return undefined;
}

/** Gives back the `executes` slots `enterLimits` took. */
export function leaveLimits(method: ExportedMethod): void {
  method.service.executes?.leave();
  method.executes?.leave();
}
