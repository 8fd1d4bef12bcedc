import { HeartlineError } from '../errors/heartline-error.js';
import { errorResponse, runHandler, type HandlerFailure, type Outcome } from '../exchange/responder.js';
import { readRequest } from '../protocol/messages.js';
import type { CallbackProxies } from './callback-proxies.js';
import type { ServiceRegistry } from './service-registry.js';

/** A call being executed; `cancelled` is set by a Cancel frame and drops its response. */
export interface Execution {
  cancelled: boolean;
}

/** A handler that threw or rejected, for the provider's log. */
export interface DispatchFailure extends HandlerFailure {
  service: string;
  method: string;
}

/**
 * Runs one decoded request: checks its shape, finds the service and the
 * declared method (a Map lookup, so `constructor`, `__proto__` and prototype
 * members are never found), applies the `executes` caps before any user code,
 * and the connection's callback cap, turns callback ids into functions, then
 * calls the handler. `done` is called exactly once (perhaps before this
 * returns), with `failure` when the handler threw or rejected. Whether an
 * answer is sent is decided by the request's flags, not by the contract.
 */
export function dispatch(
  registry: ServiceRegistry,
  decoded: unknown,
  callbacks: CallbackProxies,
  execution: Execution,
  done: (outcome: Outcome | undefined, failure?: DispatchFailure) => void,
  exposeStack: boolean,
): void {
  const request = readRequest(decoded);
  if (request instanceof HeartlineError) {
    done(errorResponse(request.code, request.message));
    return;
  }
  const service = registry.lookup(request.service, request.version, request.group);
  if (service === undefined) {
    done(errorResponse('SERVICE_NOT_FOUND', `no service ${request.service} version '${request.version}' group '${request.group}'`));
    return;
  }
  const handler = service.methods.get(request.method);
  if (handler === undefined) {
    done(errorResponse('METHOD_NOT_FOUND', `${request.service} has no method '${request.method}'`));
    return;
  }
  const args = request.args;
  const positions = service.callbacks.get(request.method);
  if (positions !== undefined) {
    for (const i of positions) {
      const id = args[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) {
        done(errorResponse('BAD_REQUEST', `argument ${i} of ${request.method} must be a callback id`));
        return;
      }
    }
  }
  if (positions !== undefined && !callbacks.hasRoomFor(positions.map((i) => args[i] as number))) {
    done(errorResponse('LIMIT_EXCEEDED', `this connection holds its limit of ${callbacks.limit} callbacks`));
    return;
  }
  const serviceCap = service.executes;
  const methodCap = service.methodExecutes.get(request.method);
  if (serviceCap !== undefined && !serviceCap.tryEnter()) {
    done(errorResponse('LIMIT_EXCEEDED', `${request.service} is executing its limit of ${serviceCap.limit} calls`));
    return;
  }
  if (methodCap !== undefined && !methodCap.tryEnter()) {
    serviceCap?.leave();
    done(errorResponse('LIMIT_EXCEEDED', `${request.service}#${request.method} is executing its limit of ${methodCap.limit} calls`));
    return;
  }
  // Callback proxies are made only for calls that will run.
  if (positions !== undefined) for (const i of positions) args[i] = callbacks.get(args[i] as number);
  runHandler(handler, service.instance, args, exposeStack, (outcome, failure) => {
    serviceCap?.leave();
    methodCap?.leave();
    // Whether an answer goes out is the frame's flags' business (the connection's), not the contract's.
    done(outcome, failure && { service: request.service, method: request.method, error: failure.error });
  });
}
