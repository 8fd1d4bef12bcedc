import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '../../index.js';
import { ms, type Output } from '../output.js';

/** The interval a provider's limit on pings assumes when the agreed heartbeat is 0 (protocol.md 4.4), in ms. */
const NO_HEARTBEAT_INTERVAL = 1000;

/**
 * `heartline ping <host:port> [--count N]`: opens a connection and reports
 * how long it took (TCP, TLS if any, and the Heartline handshake), then N
 * heartbeat pings and their round-trip times, `interval` ms apart (at least
 * half the agreed heartbeat, or 500 ms when none was agreed: the pace the
 * provider allows, protocol.md 4.4).
 */
export async function ping(client: Client, address: string, count: number, interval: number, out: Output): Promise<void> {
  const started = performance.now();
  let connectedAt: number | undefined;
  client.once('connect', () => (connectedAt = performance.now()));
  const rtts: number[] = [];
  rtts.push(await client.ping(address)); // the first waits for the handshake
  const handshake = (connectedAt ?? performance.now()) - started;
  const heartbeat = client.connections()[0]?.heartbeat ?? 0;
  out.line(`connected to ${address} in ${ms(handshake)} (TCP + handshake), heartbeat ${heartbeat} ms`);
  out.line(`ping 1: ${ms(rtts[0]!)}`);
  const pace = Math.max(interval, (heartbeat > 0 ? heartbeat : NO_HEARTBEAT_INTERVAL) / 2);
  for (let i = 2; i <= count; i++) {
    await sleep(pace);
    const rtt = await client.ping(address);
    rtts.push(rtt);
    out.line(`ping ${i}: ${ms(rtt)}`);
  }
  const min = Math.min(...rtts);
  const max = Math.max(...rtts);
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  out.document({ address, handshake, heartbeat, rtts, min, avg, max });
  if (rtts.length > 1) out.line(`${rtts.length} pings: min ${ms(min)}, avg ${ms(avg)}, max ${ms(max)}`);
}
