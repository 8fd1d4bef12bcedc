// The provider's idle timeout: it closes connections that stay silent, never
// a consumer that keeps to the agreed heartbeat.
import { describe, expect, it } from 'vitest';
import { decodeBody } from '../../src/protocol/codec.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame, frameFlags } from '../../src/protocol/frame.js';
import { Echo } from '../helpers/contract.js';
import { HANDSHAKE_REQUEST, RawConnection } from '../helpers/raw-socket.js';
import { newClient, startServer, useCleanup, waitFor } from '../helpers/server.js';
import { recordClientEvents, recordServerEvents, sleep } from './util.js';

const IDLE = 300;

describe('provider idle timeout', () => {
  const defer = useCleanup();

  it('closes a raw socket that shakes hands and then stays silent (reason heartbeat-timeout)', async () => {
    const srv = defer(await startServer({ idleTimeout: IDLE }), (s) => s.close());
    const events = recordServerEvents(srv.server);
    const opened = performance.now();
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    expect(srv.server.connections()).toHaveLength(1);
    expect(srv.server.connections()[0]!.heartbeat).toBe(IDLE / 3);

    expect(await raw.closedWithin(IDLE + 700)).toBe(true);
    const closedAfter = performance.now() - opened;
    expect(closedAfter).toBeGreaterThanOrEqual(IDLE - 10);
    expect(events.disconnects).toHaveLength(1);
    expect(events.disconnects[0]!.reason).toBe('heartbeat-timeout');
    expect(srv.server.connections()).toEqual([]);
    // The provider never pings: not a single frame came before the close.
    expect(raw.unread).toBe(0);
    expect(raw.protocolError).toBeUndefined();
  });

  it('tells the consumer the idle timeout and the interval it must keep to in the handshake', async () => {
    const srv = defer(await startServer({ idleTimeout: IDLE }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port, { handshake: false }), (r) => r.destroy());
    raw.send(HANDSHAKE_REQUEST); // proposes heartbeat 0
    const answer = await raw.nextFrame();
    expect(answer!.status).toBe(0);
    expect(decodeBody(answer!.body)).toMatchObject({ heartbeat: IDLE / 3, idleTimeout: IDLE });
  });

  it('a socket that never shakes hands is closed as well', async () => {
    const srv = defer(await startServer({ idleTimeout: IDLE }), (s) => s.close());
    const events = recordServerEvents(srv.server);
    const raw = defer(await RawConnection.open(srv.port, { handshake: false }), (r) => r.destroy());
    expect(await raw.closedWithin(IDLE + 700)).toBe(true);
    await waitFor(() => events.disconnects.length === 1, 500, 'the server disconnect event');
    expect(events.disconnects[0]!.reason).toBe('heartbeat-timeout');
  });

  it('a raw socket that keeps pinging is not closed', async () => {
    const srv = defer(await startServer({ idleTimeout: IDLE }), (s) => s.close());
    const raw = defer(await RawConnection.open(srv.port), (r) => r.destroy());
    for (let id = 1; id <= 10; id++) {
      raw.send(encodeFrame(frameFlags(FrameType.Heartbeat, true, true), 0, FrameType.Heartbeat, id));
      const pong = await raw.nextFrame();
      expect(pong).toMatchObject({ type: FrameType.Heartbeat, id, flags: 0x20, status: 0, length: 0 });
      await sleep(IDLE / 3);
    }
    expect(raw.isClosed).toBe(false);
    expect(srv.server.connections()).toHaveLength(1);
  });

  it('a Heartline client (which pings) stays connected past 1 s of idleness, even proposing no heartbeat', async () => {
    const srv = defer(await startServer({ idleTimeout: IDLE }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const defaults = defer(newClient(srv.address), (c) => c.close()); // proposes 15000
    const none = defer(newClient(srv.address, { heartbeat: 0 }), (c) => c.close()); // proposes none
    const clientEvents = [recordClientEvents(defaults), recordClientEvents(none)];
    const stubs = [defaults.refer(Echo), none.refer(Echo)];
    expect(await Promise.all(stubs.map((s) => s.echo('hi')))).toEqual(['hi', 'hi']);
    const ids = [defaults, none].map((c) => c.connections()[0]!.id);
    for (const c of [defaults, none]) expect(c.connections()[0]!.heartbeat).toBe(IDLE / 3);

    await sleep(1100);

    expect(serverEvents.disconnects).toEqual([]);
    for (const log of clientEvents) expect(log.disconnects).toEqual([]);
    expect(srv.server.connections()).toHaveLength(2);
    for (const [i, c] of [defaults, none].entries()) {
      expect(c.connections().map((x) => x.id)).toEqual([ids[i]]);
      expect(c.connections()[0]!.rtt).toBeDefined();
    }
    expect(await Promise.all(stubs.map((s) => s.echo('still')))).toEqual(['still', 'still']);
    expect(srv.server.connectionsAccepted).toBe(2);
  });
});
