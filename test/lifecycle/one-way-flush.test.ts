// One-way calls settle when their frame is handed to the socket, not when it is
// queued (issue #7 C6): a provider that stops reading keeps the writer blocked
// behind a large request, and a one-way call queued behind it waits with it.
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/index.js';
import { encodeBody } from '../../src/protocol/codec.js';
import { expectNothingOpen } from '../cluster/cluster-helpers.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse, type FakeRequest } from '../helpers/fake-provider.js';
import { newClient, track, useCleanup, waitFor } from '../helpers/server.js';
import { sleep } from './util.js';

const MiB = 1024 * 1024;
/** Far more than the loopback socket buffers take while the peer does not read. */
const BIG = 16 * MiB;

describe('one-way calls and the flush', () => {
  const defer = useCleanup();

  /** A provider that answers the handshake, then stops reading; `received` collects the calls it reads. */
  async function stalledProvider() {
    let socket: Socket | undefined;
    const received: FakeRequest[] = [];
    const fake = defer(
      await FakeProvider.start((call) => received.push(call), {
        maxFrameSize: 64 * MiB,
        onHandshake: (frame, s) => {
          socket = s;
          s.write(handshakeResponse(frame.id, 0, encodeBody({ version: 1, maxFrameSize: 64 * MiB, heartbeat: 0, idleTimeout: 0 })));
        },
      }),
      (f) => f.close(),
    );
    const client = defer(newClient(fake.address, { cluster: 'failfast', timeout: 30_000, maxQueuedBytes: 64 * MiB, heartbeat: 0 }), (c) => c.close());
    const echo = client.refer(Echo);
    // Shake hands first (the call is answered by nobody; it stays pending until the connection goes).
    const warmup = track(echo.echo('warm up'));
    await waitFor(() => received.length === 1, 2000, 'the first call');
    socket!.pause();
    // A request far larger than the socket buffers: the writer stays blocked while the provider does not read.
    const big = track(echo.size('x'.repeat(BIG)));
    await sleep(50);
    return { socket: socket!, received, client, echo, big, warmup };
  }

  it('resolves only once its frame is handed to the socket', async () => {
    const { socket, received, echo, big } = await stalledProvider();
    const oneWay = track(echo.notify('after the big one', 0));
    await sleep(200);
    expect(big.settled).toBe(false);
    expect(oneWay.settled).toBe(false); // still queued behind the blocked writer

    socket.resume(); // the provider reads again: 'drain', the queued frame is written
    await waitFor(() => oneWay.settled, 5000, 'the one-way call to settle');
    expect(oneWay.error).toBeUndefined();
    await waitFor(() => received.some((r) => r.request?.[3] === 'notify'), 5000, 'the provider to read the one-way call');
  });

  it('fails with CONNECTION_LOST_UNWRITTEN when the connection closes before it was written', async () => {
    const { socket, echo, big, warmup } = await stalledProvider();
    const oneWay = track(echo.notify('never written', 0));
    await sleep(100);
    expect(oneWay.settled).toBe(false);

    socket.destroy(); // the provider goes away with the frame still queued
    await waitFor(() => oneWay.settled && big.settled && warmup.settled, 2000, 'every call to settle');
    expect(oneWay.error).toBeInstanceOf(HeartlineError);
    expect((oneWay.error as HeartlineError).code).toBe('CONNECTION_LOST_UNWRITTEN');
    // The big request was handed to the socket: its outcome is unknown.
    expect((big.error as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
  });
});

afterAll(() => expectNothingOpen());
