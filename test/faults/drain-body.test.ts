// The drain frame's body (issue #7 D12): the provider sends
// { reason: 'shutting down', deadline: closeGracePeriod }; a consumer accepts an
// empty body or any map (ignoring its fields) and treats anything else as a
// protocol error.
import { afterAll, describe, expect, it } from 'vitest';
import type { DisconnectReason } from '../../src/index.js';
import { decodeBody, encodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, FLAGS } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, responseFrame } from '../helpers/fake-provider.js';
import { RawConnection } from '../helpers/raw-socket.js';
import { expectFailure, newClient, startServer, track, useCleanup, waitFor } from '../helpers/server.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';

describe('drain frame body', () => {
  const defer = useCleanup();

  it("the provider's drain frame carries { reason: 'shutting down', deadline: closeGracePeriod }", async () => {
    const srv = defer(await startServer({ closeGracePeriod: 1234 }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    const closing = track(srv.server.close());
    const drain = await raw.nextFrame(1000);
    expect(drain!.type).toBe(FrameType.Drain);
    expect(decodeBody(drain!.body)).toEqual({ reason: 'shutting down', deadline: 1234 });
    raw.end();
    await waitFor(() => closing.settled, 2000, 'close()');
  });

  /** A fake provider that answers the first call with a drain frame of `body`, then (if the connection is still up) the response. */
  async function drainWith(body: Buffer | undefined): Promise<{ reasons: DisconnectReason[]; outcome: ReturnType<typeof track> }> {
    const fake = defer(
      await FakeProvider.start(({ frame, socket }) => {
        socket.write(encodeFrame(FLAGS.drain, 0, FrameType.Drain, 0, body));
        setTimeout(() => socket.writable && socket.write(responseFrame(frame.id, 0, encodeBody('answered'))), 20);
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { cluster: 'failfast', reconnect: { initialDelay: 60_000, maxDelay: 60_000 } }), (c) => c.close());
    const reasons: DisconnectReason[] = [];
    client.on('disconnect', (_info, reason) => reasons.push(reason));
    const outcome = track(client.refer(Echo).echo('x'));
    await waitFor(() => outcome.settled && reasons.length > 0, 2000, 'the call and the disconnect');
    return { reasons, outcome };
  }

  const accepted: Array<[string, Buffer | undefined]> = [
    ['empty', undefined],
    ['the provider map', encodeBody({ reason: 'shutting down', deadline: 10_000 })],
    ['an empty map', encodeBody({})],
    ['a map with unknown fields', encodeBody({ reason: 1, other: [1, 2], deadline: 'soon' })],
  ];
  for (const [name, body] of accepted) {
    it(`a consumer accepts a drain body that is ${name}: the call in flight completes, then it closes ('drain')`, async () => {
      const { reasons, outcome } = await drainWith(body);
      expect(outcome.value).toBe('answered');
      expect(reasons).toEqual(['drain']);
    });
  }

  const refused: Array<[string, Buffer]> = [
    ['an array', encodeBody(['shutting down'])],
    ['a string', encodeBody('shutting down')],
    ['nil', Buffer.from([0xc0])],
    ['a number', encodeBody(5)],
    ['bin', encodeBody(Buffer.from('x'))],
    ['undecodable', Buffer.from([0xc1])],
  ];
  for (const [name, body] of refused) {
    it(`a drain body that is ${name} is a protocol error: the connection closes and its call fails`, async () => {
      const { reasons, outcome } = await drainWith(body);
      await expectFailure(Promise.reject(outcome.error));
      expect(reasons).toEqual(['protocol-error']);
    });
  }
});

afterAll(() => expectNothingOpen());
