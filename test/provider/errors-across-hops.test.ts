// Errors across hops over real sockets: A calls B, whose handler calls C.
import { describe, expect, it } from 'vitest';
import { HeartlineError, Server, Service, silentLogger } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { MAX_VALUE_DEPTH } from '../../src/protocol/value-check.js';
import { errorMap, FakeProvider, responseFrame } from '../helpers/fake-provider.js';
import { expectCode, newClient, useCleanup } from '../helpers/server.js';

@Service('test.Hop', { methods: { relay: {}, own: {}, deep: {} } })
abstract class Hop {
  abstract relay(): Promise<string>;
  abstract own(kind: string): Promise<string>;
  /** Fails with a downstream error whose cause chain holds, at `level`, details nested as deep as a value may be. */
  abstract deep(level: number): Promise<string>;
}

/** An object nested `levels` deep: `{ d: { d: ... {} } }`. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { d: v };
  return v;
}

/**
 * A downstream HeartlineError (it has `call`) and its chain, 8 errors: answered, the error itself is cause
 * level 1, its cause level 2, ...; the one at `level` carries `details`.
 */
function deepChain(level: number, details: unknown): HeartlineError {
  let e: HeartlineError | undefined;
  for (let i = 8; i >= 1; i--) e = new HeartlineError(i === 1 ? 'UNAVAILABLE' : 'HANDLER_ERROR', `level ${i}`, { call: 'test.Down#work', cause: e, details: i === level ? details : undefined });
  return e!;
}

@Service('test.Down', { methods: { work: {} } })
abstract class Down {
  abstract work(): Promise<string>;
}

const defer = useCleanup();

/** C: a provider that answers every call with `status` and `body`. */
async function downstream(status: number, body: Buffer): Promise<FakeProvider> {
  return defer(await FakeProvider.start(({ frame, socket }) => socket.write(responseFrame(frame.id, status, body))), (f) => f.close());
}

/** B: a provider whose `relay` calls `work` on `c` and rethrows what it fails with. */
async function middle(c: FakeProvider): Promise<string> {
  const toC = defer(newClient(c.address), (cl) => cl.close());
  const down = toC.refer(Down, { cluster: 'failfast' });
  const server = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger }), (s) => s.close());
  server.register(Hop, {
    relay: () => down.work(),
    own: async (kind: string) => {
      if (kind === 'bad-request') throw new HeartlineError('BAD_REQUEST', 'your input', { details: { field: 'name' } });
      if (kind === 'unavailable') throw new HeartlineError('UNAVAILABLE', 'my own unavailable');
      throw new HeartlineError('UNAVAILABLE', 'rethrown by hand', { call: 'test.Down#work', details: { shard: 3 }, cause: new HeartlineError('TIMEOUT', 'deeper') });
    },
    deep: async (level: number) => {
      throw deepChain(level, nested(MAX_VALUE_DEPTH));
    },
  });
  const { port } = await server.listen();
  return `127.0.0.1:${port}`;
}

describe('errors across hops', () => {
  it("a handler that rethrows its downstream UNAVAILABLE: the caller sees HANDLER_ERROR, not retry-safe, with the downstream's code in cause", async () => {
    const c = await downstream(12, errorMap('UNAVAILABLE', 'C is draining'));
    const a = defer(newClient(await middle(c)), (cl) => cl.close());
    const err = await expectCode(a.refer(Hop, { cluster: 'failfast' }).relay(), 'HANDLER_ERROR');
    expect(err.retrySafe).toBe(false);
    expect(err.message).toBe('C is draining');
    // Its name says nothing the code and cause do not: no `remoteName: 'HeartlineError'` (issue #8 point 7).
    expect(err.remoteName).toBeUndefined();
    expect(err.call).toBe('test.Hop#relay');
    const cause = err.cause as HeartlineError;
    expect(cause).toBeInstanceOf(HeartlineError);
    expect(cause.code).toBe('UNAVAILABLE');
    expect(cause.message).toBe('C is draining');
    expect(cause.remote).toBe(true);
    // B's consumer marked the error with the call that failed; B's provider sent it on in the cause.
    expect(cause.call).toBe('test.Down#work');
    expect(cause.cause).toBeUndefined();
  });

  it('a downstream failure with `call` and details (as the consumer marks it): cause.call and the details reach the caller', async () => {
    const c = await downstream(12, errorMap('UNAVAILABLE', 'unused'));
    const a = defer(newClient(await middle(c)), (cl) => cl.close());
    const err = await expectCode(a.refer(Hop, { cluster: 'failfast' }).own('downstream'), 'HANDLER_ERROR');
    expect(err.details).toEqual({ shard: 3 });
    expect(err.call).toBe('test.Hop#own');
    expect(err.cause).toMatchObject({ code: 'UNAVAILABLE', call: 'test.Down#work', details: { shard: 3 } });
    expect((err.cause as HeartlineError).cause).toMatchObject({ code: 'TIMEOUT', message: 'deeper' });
  });

  it("a handler's deliberate codes: BAD_REQUEST is kept with its details; its own UNAVAILABLE (retry-safe) becomes HANDLER_ERROR", async () => {
    const c = await downstream(12, errorMap('UNAVAILABLE', 'unused'));
    const a = defer(newClient(await middle(c)), (cl) => cl.close());
    const hop = a.refer(Hop, { cluster: 'failfast' });
    const bad = await expectCode(hop.own('bad-request'), 'BAD_REQUEST');
    expect(bad.details).toEqual({ field: 'name' });
    expect(bad.cause).toBeUndefined();
    expect(bad.call).toBe('test.Hop#own');
    const own = await expectCode(hop.own('unavailable'), 'HANDLER_ERROR');
    expect(own.call).toBe('test.Hop#own');
    expect(own.cause).toMatchObject({ code: 'UNAVAILABLE', message: 'my own unavailable' });
    // The handler's own error came from no Heartline call: its cause names none.
    expect((own.cause as HeartlineError).call).toBeUndefined();
  });

  it('a malformed cause on the wire is ignored: the call fails with its status code and message', async () => {
    const c = await downstream(8, encodeBody({ code: 'HANDLER_ERROR', message: 'broken cause', cause: [1, 'x', { code: 7 }] }));
    const client = defer(newClient(c.address), (cl) => cl.close());
    const err = await expectCode(client.refer(Down, { cluster: 'failfast' }).work(), 'HANDLER_ERROR');
    expect(err.message).toBe('broken cause');
    expect(err.call).toBe('test.Down#work');
    expect(err.cause).toBeUndefined();
  });

  it('details as deep as a value may be, at any cause level: the error still arrives and the connection stays', async () => {
    const c = await downstream(12, errorMap('UNAVAILABLE', 'unused'));
    const a = defer(newClient(await middle(c)), (cl) => cl.close());
    const hop = a.refer(Hop, { cluster: 'failfast' });
    await expectCode(hop.own('bad-request'), 'BAD_REQUEST'); // opens the connection
    const [before] = a.connections();
    for (let level = 1; level <= 8; level++) {
      const err = await expectCode(hop.deep(level), 'HANDLER_ERROR');
      expect(err.message, `level ${level}`).toBe('level 1');
      let cause = err.cause as HeartlineError;
      for (let i = 1; i < level; i++) cause = cause.cause as HeartlineError;
      expect(cause, `level ${level}`).toMatchObject({ message: `level ${level}` });
    }
    // One connection all along: none of the error bodies closed it.
    expect(a.connections()).toEqual([expect.objectContaining({ id: before!.id })]);
  });
});
