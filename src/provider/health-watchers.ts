import type { ServingStatus } from '../contract/health.js';
import type { Callback } from './callback-proxies.js';

/** A consumer's `onChange` of `heartline.Health#watch`, as the provider holds it. */
export type StatusCallback = Callback<(status: ServingStatus) => unknown>;

/** One watch: the service it follows, and what its consumer last heard. */
interface Watcher {
  service: string;
  readonly callback: StatusCallback;
  /** The status last returned or pushed to this consumer. */
  sent: ServingStatus;
  /** A push is waiting for the consumer's answer. */
  pushing: boolean;
}

/**
 * The live `heartline.Health#watch` subscriptions of one server, one per
 * consumer callback (a callback proxy of one connection), so that their
 * number is bounded by `maxCallbacks` per connection. After each possible
 * change (`refresh()`), every watcher whose status differs from what its
 * consumer last heard is pushed the new one.
 *
 * - At most one push per watcher is in flight: changes during it are
 *   coalesced, and once it is answered the watcher is compared again, so a
 *   consumer hears the changes in order, never a repeat, and a slow one
 *   holds one pending push at most, whatever the status does.
 * - A watcher ends when its callback is released (the consumer released
 *   it, or the connection closed: `onRelease`), and when a push fails for
 *   any reason (released, connection lost, the listener threw, no answer
 *   within `callbackTimeout`): the provider then releases the callback too.
 * - Watching again with the same callback moves the watch to the new service.
 */
export class HealthWatchers {
  private readonly watchers = new Map<StatusCallback, Watcher>();

  constructor(private readonly statusOf: (service: string) => ServingStatus) {}

  /** Live watchers. */
  get size(): number {
    return this.watchers.size;
  }

  /** Starts (or moves) the watch of `callback`; returns the current status of `service`. */
  add(service: string, callback: StatusCallback): ServingStatus {
    const status = this.statusOf(service);
    const existing = this.watchers.get(callback);
    if (existing !== undefined) {
      existing.service = service;
      existing.sent = status;
      return status;
    }
    if (callback.released) return status; // the connection closed meanwhile: nothing to push to
    const watcher: Watcher = { service, callback, sent: status, pushing: false };
    this.watchers.set(callback, watcher);
    callback.onRelease(() => this.remove(watcher));
    return status;
  }

  /** Something may have changed: pushes each watcher's new status, if it has one. */
  refresh(): void {
    for (const watcher of [...this.watchers.values()]) this.deliver(watcher);
  }

  private deliver(watcher: Watcher): void {
    if (watcher.pushing || this.watchers.get(watcher.callback) !== watcher) return;
    const status = this.statusOf(watcher.service);
    if (status === watcher.sent) return;
    watcher.sent = status;
    watcher.pushing = true;
    let pushed: Promise<unknown>;
    try {
      pushed = watcher.callback(status);
    } catch (err) {
      pushed = Promise.reject(err); // a proxy returns a promise; this only guards the contract
    }
    pushed.then(
      () => {
        watcher.pushing = false;
        this.deliver(watcher); // a change while the push was in flight
      },
      () => {
        watcher.pushing = false;
        this.remove(watcher);
        watcher.callback.release();
      },
    );
  }

  private remove(watcher: Watcher): void {
    if (this.watchers.get(watcher.callback) === watcher) this.watchers.delete(watcher.callback);
  }
}
