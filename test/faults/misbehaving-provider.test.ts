// How a consumer copes with a provider that breaks the protocol or ignores it
// (a scripted fake provider; see test/helpers/fake-provider.ts).
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type HeartlineError } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { Echo } from '../helpers/contract.js';
import { errorMap, FakeProvider, handshakeResponse, responseFrame, type FakeRequest } from '../helpers/fake-provider.js';
import { expectCode, newClient, track, useCleanup, waitFor } from '../helpers/server.js';

/** Answers `echo` at once and `sleep(ms)` after ms, like the real test provider. */
function answer({ frame, request, socket }: FakeRequest): void {
  const [, , , method, args] = request as [string, string, string, string, unknown[]];
  const reply = (): void => {
    if (!socket.destroyed) socket.write(responseFrame(frame.id, 0, encodeBody(args[0])));
  };
  if (method === 'sleep') setTimeout(reply, args[0] as number);
  else reply();
}

describe('a misbehaving provider', () => {
  const defer = useCleanup();

  it('ignores the cancel: the late response is dropped and counted, never delivered', async () => {
    const fake = defer(await FakeProvider.start(answer), (f) => f.close());
    const client = defer(newClient(fake.address, { timeout: 50 }), (c) => c.close());
    const echo = client.refer(Echo);
    expect(await echo.echo('warm up')).toBe('warm up');

    const err = await expectCode(echo.sleep(120), 'TIMEOUT');
    expect(err.stack).toContain('misbehaving-provider.test.ts');
    await waitFor(() => fake.cancelled.length === 1, 500, 'the cancel to arrive');
    await waitFor(() => client.connections()[0]!.lateResponses === 1, 1000, 'the late response');
    expect(client.connections()[0]!.inFlight).toBe(0);
    expect(await echo.echo('next')).toBe('next');
    expect(client.connections()[0]!.lateResponses).toBe(1);
  });

  it('sends an unknown status: that call fails with PROTOCOL_ERROR, the connection stays', async () => {
    const fake = defer(
      await FakeProvider.start((call) => {
        if ((call.request as unknown[])[3] === 'fail') call.socket.write(responseFrame(call.frame.id, 200, errorMap('WHAT', 'unknown')));
        else answer(call);
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo);
    await expectCode(echo.fail('x'), 'PROTOCOL_ERROR');
    expect(await echo.echo('still here')).toBe('still here');
    expect(client.connections()).toHaveLength(1);
  });

  it('sends garbage: the connection closes and every call in flight fails with CONNECTION_LOST_WRITTEN', async () => {
    const fake = defer(
      await FakeProvider.start((call) => {
        if ((call.request as unknown[])[3] === 'fail') call.socket.write(Buffer.from('this is not a frame at all'));
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { timeout: 30_000 }), (c) => c.close());
    const echo = client.refer(Echo);
    const inFlight = [track(echo.sleep(10_000)), track(echo.sleep(10_000))];
    const trigger = echo.fail('send garbage');
    await expectCode(trigger, 'CONNECTION_LOST_WRITTEN');
    await waitFor(() => inFlight.every((c) => c.settled), 500, 'the calls in flight to fail');
    for (const call of inFlight) expect((call.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
    expect(client.connections()).toHaveLength(0);
  });

  it('never answers the handshake: queued calls fail with CONNECT_FAILED after connectTimeout, not their own timeout', async () => {
    const fake = defer(await FakeProvider.start(answer, { onHandshake: () => undefined }), (f) => f.close());
    const client = defer(newClient(fake.address, { timeout: 30_000, connectTimeout: 100 }), (c) => c.close());
    const started = performance.now();
    await expectCode(client.refer(Echo).echo('queued'), 'CONNECT_FAILED');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(1000);
  });

  it('refuses the handshake with LIMIT_EXCEEDED: the queued calls fail with that error (protocol.md 4.3)', async () => {
    const fake = defer(
      await FakeProvider.start(answer, {
        onHandshake: (frame, socket) => {
          socket.end(handshakeResponse(frame.id, ERROR_CODES.LIMIT_EXCEEDED.status, errorMap('LIMIT_EXCEEDED', 'too many connections')));
        },
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address), (c) => c.close());
    const echo = client.refer(Echo);
    const twoWay = track(echo.echo('queued'));
    const oneWay = track(echo.notify('queued', 0));
    await waitFor(() => twoWay.settled && oneWay.settled, 1000, 'the queued calls to fail');
    expect((twoWay.error as HeartlineError).code).toBe('LIMIT_EXCEEDED');
    expect((oneWay.error as HeartlineError | undefined)?.code, 'a queued one-way call').toBe('LIMIT_EXCEEDED');
  });

  it('refuses the handshake with PROTOCOL_ERROR: the queued calls fail with that error (protocol.md 4.3)', async () => {
    const fake = defer(
      await FakeProvider.start(answer, {
        onHandshake: (frame, socket) => {
          socket.end(handshakeResponse(frame.id, ERROR_CODES.PROTOCOL_ERROR.status, errorMap('PROTOCOL_ERROR', 'unsupported version')));
        },
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address), (c) => c.close());
    const err = await expectCode(client.refer(Echo).echo('queued'), 'PROTOCOL_ERROR');
    expect(err.remote).toBe(true);
  });
});
