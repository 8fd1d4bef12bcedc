import { describe, expect, it } from 'vitest';
import type { ClientCall, ClientInterceptor } from '../../src/consumer/client-interceptor.js';
import { runInScope } from '../../src/context/call-scope.js';
import { traceContext } from '../../src/interceptors/trace-context.js';
import { parseTraceparent } from '../../src/interceptors/traceparent.js';
import type { ServerCall, ServerInterceptor } from '../../src/provider/server-interceptor.js';
import { fakeClientCall, fakeServerCall } from './fake-calls.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Runs the interceptor on a consumer call and returns the call `next` received (the same one when it passed none). */
async function sent(call: ClientCall, options?: Parameters<typeof traceContext>[0]): Promise<ClientCall> {
  let seen: ClientCall | undefined;
  await traceContext(options)(call, async (next) => {
    seen = next ?? call;
  });
  return seen!;
}

describe('traceContext', () => {
  it('is assignable to both ClientInterceptor and ServerInterceptor', () => {
    const client: ClientInterceptor = traceContext();
    const server: ServerInterceptor = traceContext();
    expect([typeof client, typeof server]).toEqual(['function', 'function']);
  });

  describe('on a consumer call', () => {
    it('outside a served call, starts a trace: random non-zero ids, flags 00 (01 with sampled), no tracestate', async () => {
      const out = await sent(fakeClientCall({ tenant: 'a', tracestate: 'orphan=1' }));
      const tp = parseTraceparent(out.attachments.traceparent);
      expect(tp).toMatchObject({ version: '00', flags: '00' });
      expect(out.attachments).toEqual({ tenant: 'a', traceparent: out.attachments.traceparent });
      const sampled = await sent(fakeClientCall(), { sampled: true });
      expect(parseTraceparent(sampled.attachments.traceparent)?.flags).toBe('01');
      const again = await sent(fakeClientCall());
      expect(parseTraceparent(again.attachments.traceparent)!.traceId).not.toBe(tp!.traceId);
    });

    it('never overwrites a valid traceparent the caller set, nor its tracestate', async () => {
      const call = fakeClientCall({ traceparent: VALID, tracestate: 'vendor=x' });
      expect(await sent(call)).toBe(call);
    });

    it('replaces an invalid traceparent the caller set', async () => {
      const out = await sent(fakeClientCall({ traceparent: VALID.toUpperCase(), tracestate: 'vendor=x' }));
      expect(parseTraceparent(out.attachments.traceparent)).toBeDefined();
      expect(out.attachments.traceparent).not.toBe(VALID.toUpperCase());
      expect(out.attachments.tracestate).toBeUndefined();
    });

    it('inside a served call with a valid traceparent, continues its trace: same trace-id and flags, new parent-id, its tracestate', async () => {
      const served = fakeServerCall({ traceparent: VALID, tracestate: 'vendor=x' });
      const out = await runInScope(served, () => sent(fakeClientCall()));
      const tp = parseTraceparent(out.attachments.traceparent)!;
      expect(tp).toMatchObject({ version: '00', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', flags: '01' });
      expect(tp.parentId).not.toBe('00f067aa0ba902b7');
      expect(out.attachments.tracestate).toBe('vendor=x');
    });

    it('inside a served call without a valid traceparent, starts a trace', async () => {
      const served = fakeServerCall({ traceparent: 'garbage', tracestate: 'vendor=x' });
      const out = await runInScope(served, () => sent(fakeClientCall()));
      expect(parseTraceparent(out.attachments.traceparent)!.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(out.attachments.tracestate).toBeUndefined();
    });

    it('uses the random source it is given', async () => {
      let n = 0;
      const out = await sent(fakeClientCall(), { randomBytes: (len) => Uint8Array.from({ length: len }, () => ++n) });
      expect(out.attachments.traceparent).toBe('00-0102030405060708090a0b0c0d0e0f10-1112131415161718-00');
    });
  });

  describe('on a served call', () => {
    async function served(attachments: Record<string, string>): Promise<ServerCall> {
      const call = fakeServerCall(attachments);
      await traceContext()(call, async (next) => {
        expect(next).toBeUndefined();
      });
      return call;
    }

    it('keeps a valid traceparent and its tracestate', async () => {
      expect((await served({ traceparent: VALID, tracestate: 'vendor=x', user: 'u' })).attachments).toEqual({ traceparent: VALID, tracestate: 'vendor=x', user: 'u' });
    });

    it('drops an invalid traceparent, and the tracestate with it, before the handler runs', async () => {
      for (const bad of ['garbage', VALID.toUpperCase(), '00-00000000000000000000000000000000-00f067aa0ba902b7-01', `${VALID}-x`]) {
        expect((await served({ traceparent: bad, tracestate: 'vendor=x', user: 'u' })).attachments, bad).toEqual({ user: 'u' });
      }
    });

    it('drops a tracestate that comes without a traceparent', async () => {
      expect((await served({ tracestate: 'vendor=x' })).attachments).toEqual({});
    });
  });

  it('checks its options at once (INVALID_CONFIG)', () => {
    for (const options of [{ sampled: 'yes' }, { randomBytes: 5 }]) {
      expect(() => traceContext(options as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
  });
});
