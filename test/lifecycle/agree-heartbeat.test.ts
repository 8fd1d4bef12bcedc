// The ping interval the provider grants in the handshake (protocol.md 4.4,
// agreeHeartbeat in src/provider/server-connection.ts), as a unit and end to end.
import { describe, expect, it } from 'vitest';
import { agreeHeartbeat } from '../../src/exchange/handshake.js';
import { Echo } from '../helpers/contract.js';
import { newClient, startServer, useCleanup } from '../helpers/server.js';
import { recordClientEvents, recordServerEvents, seededRandom, sleep } from './util.js';

describe('agreeHeartbeat (unit)', () => {
  it('never grants more than a third of the idle timeout, whatever was proposed', () => {
    const random = seededRandom(2024);
    const proposals = [0, 1, 50, 999, 1000, 15_000, 60_000, 3_600_000, 0xffffffff];
    for (let i = 0; i < 5000; i++) {
      const idleTimeout = 3 + Math.floor(random() * 300_000);
      const minHeartbeat = Math.floor(random() * 5000);
      const proposed = random() < 0.5 ? proposals[i % proposals.length]! : Math.floor(random() * 200_000);
      const granted = agreeHeartbeat(proposed, idleTimeout, minHeartbeat);
      expect(granted, `agreeHeartbeat(${proposed}, ${idleTimeout}, ${minHeartbeat})`).toBeLessThanOrEqual(idleTimeout / 3);
      expect(granted).toBeGreaterThanOrEqual(1); // an idle timeout always requires pings
      expect(Number.isInteger(granted)).toBe(true);
    }
  });

  it('a mismatched config (consumer proposes 60000, provider idleTimeout 9000) gets 3000', () => {
    expect(agreeHeartbeat(60_000, 9000, 1000)).toBe(3000);
    // the defaults: 15000 proposed, idle timeout 60000
    expect(agreeHeartbeat(15_000, 60_000, 1000)).toBe(15_000);
    expect(agreeHeartbeat(60_000, 60_000, 1000)).toBe(20_000);
  });

  it('grants the proposal when it is within [minHeartbeat, idleTimeout / 3]', () => {
    expect(agreeHeartbeat(5000, 60_000, 1000)).toBe(5000);
    expect(agreeHeartbeat(1000, 60_000, 1000)).toBe(1000);
    expect(agreeHeartbeat(20_000, 60_000, 1000)).toBe(20_000);
  });

  it('raises a proposal below minHeartbeat, unless the idle timeout forces less', () => {
    expect(agreeHeartbeat(200, 60_000, 1000)).toBe(1000);
    expect(agreeHeartbeat(200, 60_000, 50)).toBe(200);
    // minHeartbeat 1000 but idle timeout 900: 300 is the most that keeps the consumer alive.
    expect(agreeHeartbeat(200, 900, 1000)).toBe(300);
    expect(agreeHeartbeat(60_000, 900, 1000)).toBe(300);
  });

  it('a consumer proposing none (0) is told to ping at idleTimeout / 3', () => {
    expect(agreeHeartbeat(0, 60_000, 1000)).toBe(20_000);
    expect(agreeHeartbeat(0, 300, 1000)).toBe(100);
  });

  it('without an idle timeout: the proposal raised to minHeartbeat, or none', () => {
    expect(agreeHeartbeat(0, 0, 1000)).toBe(0);
    expect(agreeHeartbeat(200, 0, 1000)).toBe(1000);
    expect(agreeHeartbeat(5000, 0, 1000)).toBe(5000);
  });
});

describe('agreed heartbeat, end to end', () => {
  const defer = useCleanup();

  it('consumer proposes 60000, provider idleTimeout 900: granted 300, idle for 3 s, never cut off', async () => {
    const srv = defer(await startServer({ idleTimeout: 900 }), (s) => s.close());
    const serverEvents = recordServerEvents(srv.server);
    const client = defer(newClient(srv.address, { heartbeat: 60_000 }), (c) => c.close());
    const clientEvents = recordClientEvents(client);
    const echo = client.refer(Echo);

    expect(await echo.echo('hello')).toBe('hello');
    const [before] = client.connections();
    expect(before!.heartbeat).toBe(300);
    expect(srv.server.connections()[0]!.heartbeat).toBe(300);

    await sleep(3000); // more than 3 x the idle timeout without a single call

    const [after] = client.connections();
    expect(client.connections()).toHaveLength(1);
    expect(after!.id).toBe(before!.id);
    expect(after!.state).toBe('ready');
    expect(after!.rtt).toBeDefined(); // it pinged, and the pongs came back
    expect(after!.lastRead).toBeLessThan(900);
    expect(srv.server.connections()).toHaveLength(1);
    expect(srv.server.connections()[0]!.lastRead).toBeLessThan(900);
    expect(srv.server.connectionsAccepted).toBe(1);
    expect(clientEvents.disconnects).toEqual([]);
    expect(serverEvents.disconnects).toEqual([]);

    expect(await echo.echo('still here')).toBe('still here');
    expect(client.connections()[0]!.id).toBe(before!.id);
  });
});
