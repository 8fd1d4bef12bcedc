import { hasCode, HeartlineError } from '../errors/heartline-error.js';
import { decodeBody } from '../protocol/codec.js';
import { checkRequest, type RequestBody } from '../protocol/messages.js';
import type { ServerCall } from './server-interceptor.js';
import type { ExportedMethod, ServiceRegistry } from './service-registry.js';

/**
 * The decode stage, part one: a request frame's body, checked (the context
 * stage reads its items in place: no RequestMessage per call), or
 * the error it is answered with. BAD_REQUEST (valid MessagePack of the wrong
 * shape, or one the codec refuses) is answered and the connection stays;
 * PROTOCOL_ERROR (malformed MessagePack) closes the connection.
 */
export function decodeRequest(body: Buffer): RequestBody | HeartlineError {
  let decoded: unknown;
  try {
    decoded = body.length === 0 ? null : decodeBody(body); // an empty body is nil: BAD_REQUEST below
  } catch (err) {
    if (hasCode(err, 'BAD_REQUEST')) return new HeartlineError('BAD_REQUEST', `malformed request body: ${err.message}`);
    return new HeartlineError('PROTOCOL_ERROR', `undecodable request body: ${(err as Error).message}`);
  }
  return checkRequest(decoded) ?? (decoded as RequestBody);
}

/**
 * The decode stage, part two: the declared method a request names (a Map
 * lookup, so `constructor`, `__proto__` and prototype members are never
 * found), or SERVICE_NOT_FOUND / METHOD_NOT_FOUND, or BAD_REQUEST when an
 * argument declared as a callback is not a callback id.
 */
export function findMethod(registry: ServiceRegistry, request: Pick<ServerCall, 'service' | 'version' | 'group' | 'method' | 'args'>): ExportedMethod | HeartlineError {
  const service = registry.lookup(request.service, request.version, request.group);
  if (service === undefined) return new HeartlineError('SERVICE_NOT_FOUND', `no service ${request.service} version '${request.version}' group '${request.group}'`);
  const method = service.methods.get(request.method);
  if (method === undefined) return new HeartlineError('METHOD_NOT_FOUND', `${request.service} has no method '${request.method}'`);
  const positions = method.callbacks;
  if (positions !== undefined) {
    for (const i of positions) {
      const id = request.args[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) return new HeartlineError('BAD_REQUEST', `argument ${i} of ${request.method} must be a callback id`);
    }
  }
  return method;
}
