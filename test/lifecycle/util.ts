// Small helpers shared by the lifecycle tests (test/lifecycle/ only).
import type { Client, ConnectionInfo, DisconnectReason, Server, ServerConnectionInfo } from '../../src/index.js';

export { seededRandom } from '../helpers/seeded-random.js';


export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ClientEventLog {
  connects: Array<{ info: ConnectionInfo; at: number }>;
  disconnects: Array<{ info: ConnectionInfo; reason: DisconnectReason; at: number }>;
  reconnects: Array<{ address: string; attempts: number; at: number }>;
}

/** Records every event of `client` with the time (performance.now()) it fired. */
export function recordClientEvents(client: Client): ClientEventLog {
  const log: ClientEventLog = { connects: [], disconnects: [], reconnects: [] };
  client.on('connect', (info) => log.connects.push({ info, at: performance.now() }));
  client.on('disconnect', (info, reason) => log.disconnects.push({ info, reason, at: performance.now() }));
  client.on('reconnect', (address, attempts) => log.reconnects.push({ address, attempts, at: performance.now() }));
  return log;
}

export interface ServerEventLog {
  connects: Array<{ info: ServerConnectionInfo; at: number }>;
  disconnects: Array<{ info: ServerConnectionInfo; reason: DisconnectReason; at: number }>;
}

/** Records every event of `server` with the time (performance.now()) it fired. */
export function recordServerEvents(server: Server): ServerEventLog {
  const log: ServerEventLog = { connects: [], disconnects: [] };
  server.on('connect', (info) => log.connects.push({ info, at: performance.now() }));
  server.on('disconnect', (info, reason) => log.disconnects.push({ info, reason, at: performance.now() }));
  return log;
}
