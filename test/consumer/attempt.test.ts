// One invocation is encoded once; each attempt after the first gets its own
// copy of the body, since the budget item is patched in place at write time
// and an earlier attempt's frame may still be queued.
import { describe, expect, it } from 'vitest';
import { Attempt, PreparedCall } from '../../src/consumer/attempt.js';
import { ClientInvocation, NO_ATTACHMENTS, type MethodTarget } from '../../src/consumer/invocation.js';
import type { ClientConnection } from '../../src/exchange/client-connection.js';
import { HeartlineError } from '../../src/index.js';
import { decodeBody } from '../../src/protocol/codec.js';

const target: MethodTarget = {
  service: 's', version: '1', group: '', method: 'm', label: 's#m', timeout: 1000, oneWay: false, idempotent: true,
  attempts: 3, actives: Infinity, serviceActives: Infinity, callbacks: undefined, attachments: NO_ATTACHMENTS,
};
const noConnection = undefined as unknown as ClientConnection; // a call without callbacks does not look at its connection

describe('PreparedCall', () => {
  it('hands the encoded body to the first attempt, a copy to every other', () => {
    const prepared = PreparedCall.prepare(ClientInvocation.create(target, [1, undefined], undefined, undefined)) as PreparedCall;
    const first = prepared.bodyFor(noConnection, []);
    const second = prepared.bodyFor(noConnection, []);
    expect(second).not.toBe(first);
    expect(second.equals(first)).toBe(true);
    expect(second.buffer === first.buffer && second.byteOffset === first.byteOffset).toBe(false);
    expect(decodeBody(first)).toEqual(['s', '1', '', 'm', [1], null, 0xffffffff]); // trailing undefined trimmed; the budget placeholder
  });

  it('no timeout: a nil budget item', () => {
    const prepared = PreparedCall.prepare(ClientInvocation.create({ ...target, timeout: 0 }, [], undefined, undefined)) as PreparedCall;
    expect(decodeBody(prepared.bodyFor(noConnection, []))).toEqual(['s', '1', '', 'm', [], null, null]);
  });

  it('arguments that cannot be sent: SERIALIZATION_ERROR before anything is written', () => {
    const refused = PreparedCall.prepare(ClientInvocation.create(target, [Symbol('x')], undefined, undefined));
    expect(refused).toBeInstanceOf(HeartlineError);
    expect((refused as HeartlineError).code).toBe('SERIALIZATION_ERROR');
  });

  it("an attempt's timeout is the call's, in whole ms: a deadline of `at + 300` read at `at` is 300, never 301 (floating point)", () => {
    const prepared = PreparedCall.prepare(ClientInvocation.create(target, [], undefined, undefined)) as PreparedCall;
    const slots = { release: () => undefined };
    const timeouts = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const at = 1e3 + i * 7.123456789; // clock readings like performance.now(); (1007.123456789 + 300) - 1007.123456789 > 300
      timeouts.add(new Attempt(prepared, noConnection, at + 300, slots as never, undefined as never, undefined, at).timeout);
    }
    expect([...timeouts]).toEqual([300]);
  });
});
