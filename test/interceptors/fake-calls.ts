import type { Attachments } from '../../src/protocol/messages.js';
import type { ClientCall, ClientCallChanges } from '../../src/consumer/client-interceptor.js';
import type { ServerCall } from '../../src/provider/server-interceptor.js';

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

/** A served call as interceptors and handlers see it, without a server; its attachments are its own object, as the provider's are. */
export function fakeServerCall(attachments: Attachments = {}): ServerCall {
  const controller = new AbortController();
  return {
    service: 'demo.Greeter',
    version: '1.0.0',
    group: '',
    method: 'sayHello',
    args: ['Ann'],
    attachments: { ...attachments },
    deadline: Infinity,
    timeLeft: Infinity,
    signal: controller.signal,
    peer: '127.0.0.1:50000',
    connectionId: 1,
    oneWay: false,
    principal: undefined,
  };
}
