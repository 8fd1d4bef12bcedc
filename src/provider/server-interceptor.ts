import type { Interceptor } from '../context/interceptor-chain.js';
import type { Attachments } from '../protocol/messages.js';

/**
 * One call a provider serves, as interceptors and handlers see it
 * (`currentCall()` inside a handler).
 */
export interface ServerCall {
  readonly service: string;
  readonly version: string;
  readonly group: string;
  readonly method: string;
  /** The arguments as the handler receives them (callback ids become functions once limits pass). */
  readonly args: readonly unknown[];
  /** The caller's attachments (empty when it sent none). */
  readonly attachments: Readonly<Attachments>;
  /** When the caller's budget runs out, on Heartline's clock (`performance.now()` ms); Infinity for none. */
  readonly deadline: number;
  /** ms left before `deadline` (Infinity for none; 0 once passed). */
  readonly timeLeft: number;
  /**
   * Fires when the caller cancels, the deadline passes, the consumer's
   * connection closes, or the server's grace period ends. Made on first read.
   */
  readonly signal: AbortSignal;
  /** The consumer's address, `host:port`. */
  readonly peer: string;
  /** The id of the consumer's connection (as in `server.connections()`). */
  readonly connectionId: number;
  /** The request asked for no response. */
  readonly oneWay: boolean;
  /** Who the caller is, once an authentication interceptor has said so; undefined until then. */
  principal: unknown;
}

/**
 * A provider interceptor: `async (call, next) => { ...; return await next(); }`.
 * Server-wide ones (`server.use`) run first, then the service's
 * (`interceptors` option of `register`/`@Provider`), before `executes` is
 * taken: a call an interceptor refuses never holds a slot.
 */
export type ServerInterceptor = (call: ServerCall, next: () => Promise<unknown>) => Promise<unknown>;

/** @internal The chain's view: a ServerInterceptor is one whose `next` takes no call. */
export type AnyServerInterceptor = Interceptor<ServerCall>;
