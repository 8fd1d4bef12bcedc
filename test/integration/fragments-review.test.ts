// Adversarial review of fragment frames (protocol.md 4.9): a hostile, slow or
// dead peer against the writer's accounting and the receiver's limits.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeBody } from '../../src/protocol/codec.js';
import { Echo } from '../helpers/contract.js';
import { FakeProvider, handshakeResponse } from '../helpers/fake-provider.js';
import { newClient, useCleanup, waitFor } from '../helpers/server.js';

const defer = useCleanup();
const MiB = 1024 * 1024;

/** A provider that agrees fragments, then never reads another byte (a stalled peer). */
async function stalledProvider(): Promise<{ fake: FakeProvider; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const fake = await FakeProvider.start(() => undefined, {
    onHandshake: (frame, socket) => {
      sockets.push(socket);
      socket.write(handshakeResponse(frame.id, 0, encodeBody({ version: 2, maxFrameSize: 256 * MiB, heartbeat: 0, idleTimeout: 0, fragments: true })));
      socket.pause();
    },
  });
  return { fake, sockets };
}

describe('a connection lost while large requests are being sent in fragments', () => {
  it('a large request cut before its final fragment, and one never started, fail CONNECTION_LOST_UNWRITTEN; a whole frame written before fails WRITTEN', async () => {
    const { fake, sockets } = await stalledProvider();
    defer(fake, (f) => f.close());
    const client = defer(newClient(fake.address, { timeout: 20_000, retries: 0, fragmentSize: 65536, maxQueuedBytes: 128 * MiB }), (c) => c.close());
    const echo = client.refer(Echo);
    // The kernel buffers a few MiB at most: a 24 MiB body cannot get through to a peer that does not read.
    const first = echo.echo(Buffer.alloc(24 * MiB, 1));
    const small = echo.echo('small'); // queued in the same tick: written whole with the first fragment
    const second = echo.echo(Buffer.alloc(24 * MiB, 2));
    await waitFor(() => sockets.length === 1);
    // Let the writer fill the socket and stall on 'drain'.
    await new Promise((resolve) => setTimeout(resolve, 300));
    sockets[0]!.destroy();
    const [a, b, c] = await Promise.allSettled([first, small, second]);
    const code = (r: PromiseSettledResult<unknown>): string | undefined => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'resolved');
    // The small call's frame reached the socket: the provider may have run it.
    expect(code(b)).toBe('CONNECTION_LOST_WRITTEN');
    // The provider cannot have run a message whose final fragment never left (protocol.md 4.9: it only reads the whole body).
    expect(code(a)).toBe('CONNECTION_LOST_UNWRITTEN');
    expect(code(c)).toBe('CONNECTION_LOST_UNWRITTEN');
  }, 20_000);
});
