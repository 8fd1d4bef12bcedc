import { currentScope } from '../context/call-scope.js';
import type { ClientCall } from '../consumer/client-interceptor.js';
import type { ServerCall } from '../provider/server-interceptor.js';

/**
 * The call being served, for the built-in interceptors: the provider stores
 * its `ServerCall` as the call scope (context/call-scope.ts), so the scope is
 * the call. Undefined outside a handler, or in a scope that is not a served
 * call (a bare `{ deadline, signal }`).
 */
// TODO(lead): once the provider exports currentCall() (src/provider/server-call.ts), use it here.
export function servedCall(): ServerCall | undefined {
  const scope = currentScope() as Partial<ServerCall> | undefined;
  return scope !== undefined && typeof scope.peer === 'string' && typeof scope.attachments === 'object' ? (scope as ServerCall) : undefined;
}

/**
 * True for a consumer call, false for a served one: the one shape an
 * interceptor written for both sides needs to tell them apart (a consumer
 * call can be copied with `with`, a served call has a peer).
 */
export function isClientCall(call: ClientCall | ServerCall): call is ClientCall {
  return typeof (call as Partial<ClientCall>).with === 'function';
}

/**
 * Removes attachment `key` from a served call, so that the handler (and
 * `currentCall().attachments`) never sees it. The provider gives each call
 * its own attachments object, decoded from its request, so removing a key
 * touches nothing else. False when the object refused (it was frozen).
 */
// TODO(lead): relies on ServerCall.attachments being the call's own, mutable object; if the provider freezes it, give ServerCall a way to drop an attachment and use it here.
export function dropAttachment(call: ServerCall, key: string): boolean {
  if (!Object.hasOwn(call.attachments, key)) return true;
  return Reflect.deleteProperty(call.attachments, key);
}
