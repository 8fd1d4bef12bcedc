import type { Attachments } from '../../src/protocol/messages.js';
import type { ClientCall, ClientCallChanges } from '../../src/consumer/client-interceptor.js';
import { IncomingCall } from '../../src/provider/server-call.js';
import type { ServerCall } from '../../src/provider/server-interceptor.js';
import { now } from '../../src/transport/clock.js';

/** A consumer call as interceptors see it, without a client: `with` copies, as the real invocation does. */
export function fakeClientCall(attachments: Attachments = {}, method = 'sayHello'): ClientCall {
  const call: ClientCall = {
    service: 'demo.Greeter',
    version: '1.0.0',
    group: '',
    method,
    args: ['Ann'],
    attachments,
    timeout: 1000,
    deadline: Infinity,
    timeLeft: Infinity,
    signal: undefined,
    oneWay: false,
    idempotent: false,
    with(changes: ClientCallChanges): ClientCall {
      return { ...fakeClientCall(changes.attachments ?? attachments, method), args: changes.args ?? call.args };
    },
  };
  return call;
}

/**
 * A served call as interceptors and handlers see it, without a server: the
 * provider's own call object (so `currentCall()` finds it inside
 * `runInScope`), with its own attachments object, as the provider's are.
 */
export function fakeServerCall(attachments: Attachments = {}): ServerCall {
  return new IncomingCall(1, ['demo.Greeter', '1.0.0', '', 'sayHello', ['Ann'], { ...attachments }, null], { id: 1, peer: '127.0.0.1:50000' }, false, now());
}
