import { describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, responseFrame } from '../helpers/fake-provider.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectCode, newClient, startServer, useCleanup } from '../helpers/server.js';

const THIS_FILE = 'errors.test.ts';

describe('errors', () => {
  const defer = useCleanup();

  async function setup(serverOptions: Parameters<typeof startServer>[0] = {}, clientOptions: Parameters<typeof newClient>[1] = {}) {
    const started = defer(await startServer(serverOptions), (s) => s.close());
    const client = defer(newClient(started.address, clientOptions), (c) => c.close());
    return { ...started, client, echo: client.refer(Echo), impl: started.echo };
  }

  describe('handler errors', () => {
    it('a handler that throws gives HANDLER_ERROR with the remote name and message, without the remote stack', async () => {
      const { echo } = await setup();
      const err = await expectCode(echo.fail('boom'), 'HANDLER_ERROR');
      expect(err).toBeInstanceOf(HeartlineError);
      expect(err.remote).toBe(true);
      expect(err.remoteName).toBe('TestFailure');
      expect(err.message).toBe('boom');
      expect(err.remoteStack).toBeUndefined();
      expect(err.stack).not.toContain('contract.ts');
      // The caller's stack: where the call was made.
      expect(err.stack).toContain(THIS_FILE);
    });

    it('a handler that rejects gives HANDLER_ERROR', async () => {
      const { echo } = await setup();
      const err = await expectCode(echo.failAsync('async boom'), 'HANDLER_ERROR');
      expect(err.remote).toBe(true);
      expect(err.remoteName).toBe('TestFailure');
      expect(err.message).toBe('async boom');
      expect(err.remoteStack).toBeUndefined();
      expect(err.stack).toContain(THIS_FILE);
    });

    it('the remote stack travels only when the server sets exposeStack', async () => {
      const { echo } = await setup({ exposeStack: true });
      const err = await expectCode(echo.fail('with stack'), 'HANDLER_ERROR');
      expect(err.remoteStack).toContain('TestFailure: with stack');
      expect(err.remoteStack).toContain('contract.ts');
      expect(err.stack).toContain(THIS_FILE);
    });

    it('a result that cannot be encoded gives SERIALIZATION_ERROR', async () => {
      const { echo } = await setup();
      const err = await expectCode(echo.symbol(), 'SERIALIZATION_ERROR');
      expect(err.remote).toBe(true);
      expect(await echo.echo('still fine')).toBe('still fine');
    });
  });

  describe('lookup', () => {
    it('an unknown service gives SERVICE_NOT_FOUND', async () => {
      const { client } = await setup();
      await expectCode(client.refer(Echo, { version: '9.9.9' }).echo(1), 'SERVICE_NOT_FOUND');
      await expectCode(client.refer(Echo, { group: 'nope' }).echo(1), 'SERVICE_NOT_FOUND');
    });

    it('an unknown method gives METHOD_NOT_FOUND', async () => {
      const { echo } = await setup();
      const untyped = echo as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      await expectCode(untyped.noSuchMethod!(), 'METHOD_NOT_FOUND');
    });

    it('a method implemented by the provider but not listed in the contract gives METHOD_NOT_FOUND', async () => {
      const { echo, impl } = await setup();
      await expectCode(echo.hidden(), 'METHOD_NOT_FOUND');
      expect(impl.hiddenCalls).toBe(0);
    });

    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])(
      'the method name %s sent over a raw socket gives METHOD_NOT_FOUND',
      async (method) => {
        const { port } = await setup();
        const raw = defer(await RawConnection.open(port), (r) => r.destroy());
        const { frame, code } = await raw.call(1, ['test.Echo', '1.0.0', '', method, [], null]);
        expect(frame.id).toBe(1);
        expect(code).toBe('METHOD_NOT_FOUND');
        // The connection is still usable.
        expect((await raw.call(2, ['test.Echo', '1.0.0', '', 'echo', ['ok'], null])).body).toBe('ok');
      },
    );
  });

  it('a __proto__ key in an argument is refused by the caller (SERIALIZATION_ERROR) and, sent raw, by the provider (BAD_REQUEST) before any decoding; no prototype is polluted', async () => {
    const { echo, impl, port } = await setup();
    const arg = JSON.parse('{"__proto__": {"polluted": true}, "plain": 1}') as Record<string, unknown>;
    expect(Object.hasOwn(arg, '__proto__')).toBe(true);

    const err = await expectCode(echo.echo(arg), 'SERIALIZATION_ERROR');
    expect(err.message).toContain('argument 0 .__proto__:');
    // A peer that sends it anyway (the raw socket encodes without the caller's check).
    const raw = defer(await RawConnection.open(port), (r) => r.destroy());
    expect((await raw.call(1, ['test.Echo', '1.0.0', '', 'echo', [arg], null])).code).toBe('BAD_REQUEST');
    expect(impl.received).toEqual([]);
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await echo.echo({ plain: 1 })).toEqual({ plain: 1 }); // the connection stays
    expect((await raw.call(2, ['test.Echo', '1.0.0', '', 'echo', [{ plain: 2 }], null])).body).toEqual({ plain: 2 });
  });

  it('a stub is not thenable', async () => {
    const { echo } = await setup();
    expect('then' in echo).toBe(false);
    expect((echo as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await echo).toBe(echo);
    expect(await Promise.resolve(echo)).toBe(echo);
  });

  it('arguments that cannot be encoded give SERIALIZATION_ERROR', async () => {
    const { echo, server } = await setup();
    const err = await expectCode(echo.echo(Symbol('nope')), 'SERIALIZATION_ERROR');
    expect(err.remote).toBe(false);
    expect(err.stack).toContain(THIS_FILE);
    await expectCode(echo.echo({ nested: [1, Symbol('deep')] }), 'SERIALIZATION_ERROR');
    expect(await echo.echo('fine')).toBe('fine');
    expect(server.connectionsAccepted).toBe(1);
  });

  describe('frame size limits', () => {
    it("a request over the provider's maxFrameSize gives PAYLOAD_TOO_LARGE and the connection keeps working", async () => {
      const { echo, client, server } = await setup({ maxFrameSize: 64 * 1024 });
      expect(await echo.size('x'.repeat(60 * 1024))).toBe(60 * 1024);
      await expectCode(echo.size('x'.repeat(64 * 1024)), 'PAYLOAD_TOO_LARGE');
      await expectCode(echo.size('x'.repeat(1024 * 1024)), 'PAYLOAD_TOO_LARGE');
      expect(await echo.echo('after')).toBe('after');
      expect(server.connectionsAccepted).toBe(1);
      expect(client.connections()).toHaveLength(1);
      expect(client.connections()[0]!.inFlight).toBe(0);
    });

    it("the provider itself answers PAYLOAD_TOO_LARGE for a request over its maxFrameSize", async () => {
      const { port } = await setup({ maxFrameSize: 64 * 1024 });
      const raw = defer(await RawConnection.open(port), (r) => r.destroy());
      const { frame, code } = await raw.call(5, ['test.Echo', '1.0.0', '', 'size', ['x'.repeat(100 * 1024)], null]);
      expect(frame.id).toBe(5);
      expect(code).toBe('PAYLOAD_TOO_LARGE');
      expect((await raw.call(6, ['test.Echo', '1.0.0', '', 'echo', ['ok'], null])).body).toBe('ok');
    });

    it("a response over the client's maxFrameSize gives PAYLOAD_TOO_LARGE and the connection keeps working", async () => {
      const { echo, client, server } = await setup({}, { maxFrameSize: 64 * 1024 });
      expect(await echo.blob(60 * 1024)).toHaveLength(60 * 1024);
      await expectCode(echo.blob(64 * 1024), 'PAYLOAD_TOO_LARGE');
      await expectCode(echo.blob(1024 * 1024), 'PAYLOAD_TOO_LARGE');
      expect(await echo.echo('after')).toBe('after');
      expect(server.connectionsAccepted).toBe(1);
      expect(client.connections()).toHaveLength(1);
      expect(client.connections()[0]!.inFlight).toBe(0);
    });

    it("an oversized response from a provider that ignores the client's limit fails only that call", async () => {
      const fake = defer(
        await FakeProvider.start(({ frame, request, socket }) => {
          const [, , , method, args] = request as [string, string, string, string, unknown[]];
          const value = method === 'blob' ? 'x'.repeat(args[0] as number) : args[0];
          socket.write(responseFrame(frame.id, 0, encodeBody(value)));
        }),
        (f) => f.close(),
      );
      const client = defer(newClient(fake.address, { maxFrameSize: 64 * 1024 }), (c) => c.close());
      const echo = client.refer(Echo);
      await expectCode(echo.blob(200 * 1024), 'PAYLOAD_TOO_LARGE');
      expect(await echo.echo('after')).toBe('after');
      expect(client.connections()).toHaveLength(1);
      expect(client.connections()[0]!.inFlight).toBe(0);
    });
  });
});
