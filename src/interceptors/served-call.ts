import type { ClientCall } from '../consumer/client-interceptor.js';
import type { ServerCall } from '../provider/server-interceptor.js';

/**
 * True for a consumer call, false for a served one: the one shape an
 * interceptor written for both sides needs to tell them apart (a consumer
 * call can be copied with `with`, a served call has a peer).
 */
export function isClientCall(call: ClientCall | ServerCall): call is ClientCall {
  return typeof (call as Partial<ClientCall>).with === 'function';
}

/**
 * Removes attachment `key` from a served call, so that later interceptors,
 * the handler (and `currentCall().attachments`) never see it. The provider
 * gives each call its own attachments object, the map decoded from its
 * request (a request without attachments gets a shared, frozen empty object,
 * in which no key is ever found), so removing a key touches no other call
 * (test/provider/interceptors.test.ts, "traceContext on a server"). False
 * when the object refused.
 */
export function dropAttachment(call: ServerCall, key: string): boolean {
  if (!Object.hasOwn(call.attachments, key)) return true;
  return Reflect.deleteProperty(call.attachments, key);
}
