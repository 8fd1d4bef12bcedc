import type { ServingStatus } from '../contract/health.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { invalidConfig } from '../errors/invalid-config.js';

/** What an application may set with `server.setServingStatus`. */
export type SettableStatus = 'SERVING' | 'NOT_SERVING';

/**
 * The serving status a provider reports (`heartline.Health`, protocol.md 10),
 * for the whole provider (`''`) and for each service name:
 *
 * ```
 *   closing (server.close() called)          -> NOT_SERVING, for every name
 *   ''                                        -> the provider's status (default SERVING)
 *   a name no registered service has          -> UNKNOWN
 *   a served name, provider NOT_SERVING       -> NOT_SERVING
 *   a served name                             -> its own status (default SERVING)
 * ```
 *
 * Statuses are set by name (every version and group of that name share it).
 * Changes are told to one listener (the health watchers), synchronously; it
 * compares with what it last sent, so a call that changes nothing costs it
 * one pass and pushes nothing.
 */
export class ServingStatusTable {
  private provider: SettableStatus = 'SERVING';
  private readonly services = new Map<string, SettableStatus>();
  private closing = false;
  private listener: (() => void) | undefined;

  /** `served(name)`: true when some service of that name is registered. */
  constructor(private readonly served: (name: string) => boolean) {}

  statusOf(service: string): ServingStatus {
    if (this.closing) return 'NOT_SERVING';
    if (service === '') return this.provider;
    if (!this.served(service)) return 'UNKNOWN';
    if (this.provider === 'NOT_SERVING') return 'NOT_SERVING';
    return this.services.get(service) ?? 'SERVING';
  }

  /**
   * `server.setServingStatus`: INVALID_CONFIG for a status other than
   * SERVING / NOT_SERVING, or a name no registered service has (a typo
   * would otherwise go unnoticed). After `close()` it is recorded, but
   * everything stays NOT_SERVING.
   */
  set(service: string, status: SettableStatus): void {
    if (typeof service !== 'string') throw invalidConfig('setServingStatus: service', "a service name, or '' for the whole server", service);
    if (status !== 'SERVING' && status !== 'NOT_SERVING') throw invalidConfig('setServingStatus: status', "'SERVING' or 'NOT_SERVING'", status);
    if (service === '') {
      this.provider = status;
    } else {
      if (!this.served(service)) throw new HeartlineError('INVALID_CONFIG', `setServingStatus: no service named ${JSON.stringify(service)} is registered on this server`);
      this.services.set(service, status);
    }
    this.changed();
  }

  /** The server is closing: NOT_SERVING for every name from now on. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.changed();
  }

  /** Sets the one listener told of every possible change (registrations included). */
  onChange(listener: () => void): void {
    this.listener = listener;
  }

  /** A status may have changed (a set, a registration, close): tells the listener. */
  changed(): void {
    this.listener?.();
  }
}
