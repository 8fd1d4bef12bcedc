import { Service } from './service-decorator.js';

/**
 * `heartline.Health`, a built-in service every provider serves unless
 * `builtinServices: false` (protocol.md 10), modeled on `grpc.health.v1`.
 * `service` is a service name; `''` asks about the provider as a whole.
 */

/**
 * - `SERVING`: calls are accepted.
 * - `NOT_SERVING`: the provider (or this service) is draining, closing, or was
 *   set so with `server.setServingStatus`.
 * - `UNKNOWN`: no service of that name is served.
 */
export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';

@Service('heartline.Health', {
  methods: {
    check: { idempotent: true },
    watch: { callbacks: [1] },
  },
})
export abstract class Health {
  /** The status of `service` (default `''`: the whole provider). */
  abstract check(service?: string): Promise<ServingStatus>;
  /**
   * Returns the current status of `service`, then calls `onChange` with every
   * later change (never a repeat; a slow listener gets the latest), until the
   * consumer releases the callback (`client.releaseCallback`), the connection
   * closes, or `onChange` throws or does not answer within the provider's
   * `callbackTimeout`. One watch per function: watching again with the same
   * `onChange` moves it to the other service. A closing provider pushes
   * `NOT_SERVING` first.
   */
  abstract watch(service: string, onChange: (status: ServingStatus) => void): Promise<ServingStatus>;
}
