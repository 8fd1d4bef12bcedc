import type { Health, ServingStatus } from '../contract/health.js';
import { HeartlineError } from '../errors/heartline-error.js';
import { HealthWatchers, type StatusCallback } from './health-watchers.js';
import type { ServingStatusTable } from './serving-status.js';

/** Longest service name a watch keeps, in characters: a watch holds its name for its whole life. */
const MAX_WATCHED_NAME = 1024;

/**
 * The provider's `heartline.Health` (protocol.md 10): `check` reads the
 * server's serving-status table, `watch` subscribes to its changes. Costs
 * nothing until called: the table is told of changes whether or not anyone
 * watches, and with no watcher that is one empty loop.
 */
export class HealthService implements Health {
  /** @internal The live watches (their count is observed by tests). */
  readonly watchers: HealthWatchers;

  constructor(private readonly table: ServingStatusTable) {
    this.watchers = new HealthWatchers((service) => table.statusOf(service));
    table.onChange(() => this.watchers.refresh());
  }

  async check(service?: string): Promise<ServingStatus> {
    return this.table.statusOf(serviceArgument(service));
  }

  async watch(service: string, onChange: StatusCallback): Promise<ServingStatus> {
    let name: string;
    try {
      name = serviceArgument(service);
      if (name.length > MAX_WATCHED_NAME) throw new HeartlineError('BAD_REQUEST', `heartline.Health#watch: a service name is at most ${MAX_WATCHED_NAME} characters`);
    } catch (err) {
      onChange.release(); // refused: the callback it registered is not kept
      throw err;
    }
    return this.watchers.add(name, onChange);
  }
}

/** A service name argument: a string; nil or absent mean `''` (the whole provider); anything else is BAD_REQUEST. */
function serviceArgument(service: unknown): string {
  if (service === undefined || service === null) return '';
  if (typeof service !== 'string') throw new HeartlineError('BAD_REQUEST', 'heartline.Health: the service argument must be a string');
  return service;
}
