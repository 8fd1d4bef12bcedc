import { Service } from './service-decorator.js';

/**
 * `heartline.Reflection`, a built-in service every provider serves unless
 * `builtinServices: false` (protocol.md 10): what the provider serves, and its
 * live connections (like gRPC's reflection and channelz). An ordinary
 * Heartline contract; `heartline ls`, `describe` and `connections` call it.
 */

/** One registered service, as `listServices` reports it. */
export interface ServiceSummary {
  name: string;
  /** `''` when none. */
  version: string;
  /** `''` when none. */
  group: string;
  /** The contract's method names, in declaration order. */
  methods: string[];
}

/** One method and its contract options, as `describeService` reports it. */
export interface MethodDescription {
  name: string;
  /** Call timeout in ms set by the contract; absent when the contract sets none. */
  timeout?: number;
  oneWay: boolean;
  idempotent: boolean;
  /** Set by the contract; absent when the contract sets none. */
  retries?: number;
  /** Cap on calls in flight per consumer and provider, set by the contract; absent when the contract sets none. */
  actives?: number;
  /** Argument positions that are callbacks; `[]` when none. */
  callbacks: number[];
}

/** One service and its methods, as `describeService` reports it. */
export interface ServiceDescription {
  name: string;
  version: string;
  group: string;
  methods: MethodDescription[];
}

/** One live consumer connection, as `listConnections` reports it (the provider's `server.connections()`). */
export interface ConnectionReport {
  id: number;
  /** Consumer address, `host:port`. */
  peer: string;
  state: string;
  /** ms since the connection was accepted. */
  age: number;
  /** Calls executing for this connection. */
  inFlight: number;
  /** Bytes received and sent on this connection, frame headers included. */
  bytesIn: number;
  bytesOut: number;
  /** Calls answered (or, one-way, finished) on this connection. */
  callsDone: number;
  /**
   * The code of the last error on this connection, if any. Not its message:
   * that may quote another consumer's data (`server.connections()` has it).
   */
  lastError?: { code: string };
  /**
   * Over TLS: the negotiated version (`TLSv1.3`) and whether the consumer's
   * certificate was verified; absent over plain TCP. Never the certificate's
   * subject or anything else that names the consumer.
   */
  tls?: { version: string; authorized: boolean };
}

@Service('heartline.Reflection', {
  methods: {
    listServices: { idempotent: true },
    describeService: { idempotent: true },
    listConnections: { idempotent: true },
  },
})
export abstract class Reflection {
  /** Every service the provider serves, the built-in ones included, in registration order (the built-ins first). */
  abstract listServices(): Promise<ServiceSummary[]>;
  /**
   * One service's methods; `version` and `group` default to `''`. A service
   * not served fails with SERVICE_NOT_FOUND.
   */
  abstract describeService(name: string, version?: string, group?: string): Promise<ServiceDescription>;
  /** The provider's live consumer connections. */
  abstract listConnections(): Promise<ConnectionReport[]>;
}
