// A socket that never completes its handshake is closed after handshakeTimeout,
// whatever idleTimeout is (issue #7 A5): a 1-byte drip used to keep it open
// forever on a server with idleTimeout 0.
import { afterAll, describe, expect, it } from 'vitest';
import type { DisconnectReason } from '../../src/index.js';
import { HANDSHAKE_REQUEST, RawConnection } from '../helpers/raw-socket.js';
import { startServer, useCleanup } from '../helpers/server.js';
import { expectNothingOpen, sleep } from '../cluster/cluster-helpers.js';

/** Writes the handshake request one byte every `everyMs`, for ever (it is ~50 bytes: it never completes in these tests). */
function drip(raw: RawConnection, everyMs: number): { stop(): void } {
  let i = 0;
  const timer = setInterval(() => {
    if (raw.isClosed) return;
    raw.send(HANDSHAKE_REQUEST.subarray(i % HANDSHAKE_REQUEST.length, (i % HANDSHAKE_REQUEST.length) + 1));
    i++;
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}

describe('handshake timeout', () => {
  const defer = useCleanup();

  for (const idleTimeout of [0, 60_000, 300]) {
    it(`idleTimeout ${idleTimeout}: a socket dripping one byte at a time is closed after handshakeTimeout with reason 'handshake-timeout'`, async () => {
      const srv = defer(await startServer({ idleTimeout, handshakeTimeout: 400 }), (s) => s.close());
      const reasons: DisconnectReason[] = [];
      srv.server.on('disconnect', (_info, reason) => reasons.push(reason));
      const raw = defer(await RawConnection.open(srv.port, { handshake: false }), (r) => r.destroy());
      const started = performance.now();
      defer(drip(raw, 20), (d) => d.stop());

      expect(await raw.closedWithin(2000)).toBe(true);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(1500);
      await sleep(20);
      expect(reasons).toEqual(['handshake-timeout']);
      expect(srv.server.connectionCount).toBe(0);
    });
  }

  it('a silent socket is closed too (idleTimeout 0)', async () => {
    const srv = defer(await startServer({ idleTimeout: 0, handshakeTimeout: 200 }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port, { handshake: false }), (r) => r.destroy());
    expect(await raw.closedWithin(1500)).toBe(true);
  });

  it('a connection that completed its handshake is not affected', async () => {
    const srv = defer(await startServer({ idleTimeout: 0, handshakeTimeout: 100 }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    expect(await raw.closedWithin(400)).toBe(false);
    expect(srv.server.connections().map((c) => c.state)).toEqual(['ready']);
  });
});

afterAll(() => expectNothingOpen());
