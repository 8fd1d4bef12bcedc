import type { Attachments } from '../protocol/messages.js';
import { now } from '../transport/clock.js';

/**
 * What a call is, as both sides see it: the consumer's `ClientCall` and the
 * provider's `ServerCall` extend it, so an interceptor that reads only these
 * (a logger, a metric) works on either side.
 */
export interface CallInfo {
  /** The contract's service name, e.g. `demo.Greeter`. */
  readonly service: string;
  /** The version and group of the service called. */
  readonly version: string;
  readonly group: string;
  readonly method: string;
  /** The arguments (on the consumer, trailing `undefined` ones dropped). */
  readonly args: readonly unknown[];
  /**
   * The call's attachments: on the consumer the reference's, then the call's
   * own (`withOptions`), then what interceptors set; on the provider what the
   * caller sent (empty when it sent none).
   */
  readonly attachments: Readonly<Attachments>;
  /**
   * When the call's time runs out, on Heartline's clock (`performance.now()`
   * ms); Infinity for none. On the consumer, the sooner of now + `timeout` and
   * the deadline of the call being served (inside a handler); on the
   * provider, the time of receipt + the caller's budget.
   */
  readonly deadline: number;
  /** ms left before `deadline` (Infinity for none; 0 once passed). */
  readonly timeLeft: number;
}

/** ms left before `deadline` (`CallInfo.timeLeft`): Infinity for none, 0 once passed. */
export function timeLeftUntil(deadline: number): number {
  const left = deadline - now();
  return left > 0 ? left : 0;
}
