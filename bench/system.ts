// The contract every benchmarked system implements, and how to load one by name.
import type { Payload } from './workload.js';

export interface EchoServer {
  port: number;
  close(): Promise<void>;
}

export interface EchoClient {
  echo(payload: Payload): Promise<Payload>;
  /** Echo of a Buffer (the head-of-line case's large call); floor and heartline only. */
  bulk?(body: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export interface EchoSystem {
  /** Listen on 127.0.0.1 with an ephemeral port. */
  serve(): Promise<EchoServer>;
  /** Open one connection to each server (`ports` has `servers` entries). */
  connect(ports: number[]): Promise<EchoClient>;
}

export const SYSTEM_NAMES = ['floor', 'grpc', 'heartline', 'heartline3', 'heartline-tls'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** Server processes per system; 1 unless listed. */
export const SERVER_COUNT: Partial<Record<SystemName, number>> = { heartline3: 3 };

export function isSystemName(s: string): s is SystemName {
  return (SYSTEM_NAMES as readonly string[]).includes(s);
}

/** Imported lazily so a broken or missing system does not break the others. */
export async function loadSystem(name: SystemName): Promise<EchoSystem> {
  switch (name) {
    case 'floor':
      return (await import('./floor.js')).system;
    case 'grpc':
      return (await import('./grpc.js')).system;
    case 'heartline':
      return (await import('./heartline.js')).system;
    case 'heartline3':
      return (await import('./heartline.js')).threeProviders;
    case 'heartline-tls':
      return (await import('./heartline.js')).overTls;
  }
}
