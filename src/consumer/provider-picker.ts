import { HeartlineError } from '../errors/heartline-error.js';
import { keptMessage } from '../errors/kept-message.js';
import { unwatchAbort, watchAbort, type AbortWatcher } from '../exchange/abort-watch.js';
import { cancelledError } from '../exchange/connection-call.js';
import { withOrigin } from '../exchange/pending-calls.js';
import { MAX_TIMER_MS } from '../protocol/constants.js';
import { now } from '../transport/clock.js';
import type { CloseWatcher, ConnectionRegistry } from './connection-registry.js';
import type { Directory } from './directory.js';
import type { Endpoint } from './endpoint.js';
import type { ClientInvocation } from './invocation.js';
import type { Candidate, LoadBalancer } from './load-balance/index.js';

type EndpointCandidate = Candidate & { readonly endpoint: Endpoint };

/**
 * The choice of provider for one attempt of a reference's calls: available,
 * not tried yet by this call, the last one used when `sticky`, else the load
 * balancer's pick. Before a registry's first listing it waits for it, within
 * the call's deadline and until its signal fires.
 */
export class ProviderPicker {
  private last: Endpoint | undefined;
  private cache: { listed: readonly unknown[]; entries: EndpointCandidate[] } | undefined;
  /** Calls waiting for the first listing; woken together when it comes. */
  private readonly listingWaits = new Set<ListingWait>();
  /** The listing promise this picker has one reaction on, and whether it has settled. */
  private listened: Promise<void> | undefined;
  private listenedSettled = false;

  constructor(
    private readonly directory: Directory,
    private readonly registry: ConnectionRegistry,
    private readonly balancer: LoadBalancer,
    private readonly sticky: boolean,
  ) {}

  /** The provider for the next attempt of `inv`, or undefined when none is available (and untried). */
  select(inv: ClientInvocation, tried: readonly Endpoint[] | undefined): Endpoint | undefined {
    const all = this.candidates();
    if (this.sticky && this.last !== undefined && this.last.available && tried?.includes(this.last) !== true) {
      if (all.some((c) => c.endpoint === this.last)) return this.last;
    }
    let usable: readonly EndpointCandidate[] = all;
    if (tried !== undefined || !allAvailable(all)) {
      usable = all.filter((c) => c.endpoint.available && tried?.includes(c.endpoint) !== true);
    }
    if (usable.length === 0) return undefined;
    const chosen = usable.length === 1 ? usable[0]! : (this.balancer.pick(usable, { methodKey: inv.target.label, args: inv.args }) as EndpointCandidate);
    this.last = chosen.endpoint;
    return chosen.endpoint;
  }

  /** Available providers not in `tried`. */
  untried(tried: readonly Endpoint[] | undefined): number {
    let n = 0;
    for (const c of this.candidates()) if (c.endpoint.available && tried?.includes(c.endpoint) !== true) n++;
    return n;
  }

  /** A promise while the directory's first list is still coming (a registry's first answer). */
  loading(): Promise<void> | undefined {
    return this.directory.loading?.();
  }

  /**
   * After `listing` (the first list) arrived, or the call's deadline passed:
   * the provider for its first attempt, or undefined. Rejects with
   * CLIENT_CLOSED when the client closed meanwhile (no connection may open
   * then) and with CANCELLED when the call's signal fired.
   */
  async afterListing(listing: Promise<void>, inv: ClientInvocation): Promise<Endpoint | undefined> {
    const signal = inv.signal;
    const left = inv.deadline - now();
    const wait = new ListingWait(Number.isFinite(left) ? Math.max(0, left) : MAX_TIMER_MS);
    // No reaction per call on the listing or the client's closing (promises that may live long): one set of waiters.
    this.listingWaits.add(wait);
    this.listen(listing, wait);
    this.registry.watchClose(wait);
    if (signal !== undefined && !watchAbort(signal, wait)) wait.wake(); // fired already (user code ran since the check)
    try {
      await wait.promise;
    } finally {
      wait.end();
      this.listingWaits.delete(wait);
      this.registry.unwatchClose(wait);
      if (signal !== undefined) unwatchAbort(signal, wait);
    }
    const label = inv.target.label;
    if (this.registry.isClosed) throw withOrigin(new HeartlineError('CLIENT_CLOSED', `${label}: the client was closed while the call waited for its provider list`), inv.origin);
    if (signal?.aborted === true) throw withOrigin(cancelledError(label, signal), inv.origin);
    return this.select(inv, undefined);
  }

  /** One reaction per listing promise (not per call): it wakes every call waiting then. */
  private listen(listing: Promise<void>, wait: ListingWait): void {
    if (this.listened === listing) {
      if (this.listenedSettled) wait.wake();
      return;
    }
    this.listened = listing;
    this.listenedSettled = false;
    const settled = (): void => {
      if (this.listened === listing) this.listenedSettled = true;
      for (const w of this.listingWaits) w.wake();
    };
    listing.then(settled, settled); // a failed first listing ends the wait too: the call then finds no provider
  }

  /**
   * UNAVAILABLE: no provider of the service can take `inv`. Its `cause` is
   * why a listed provider was last found unreachable (a refused connection,
   * a TLS mismatch, refused credentials), when one was.
   */
  unavailable(inv: ClientInvocation): HeartlineError {
    const note = this.directory.loading?.() === undefined ? '' : '; the registry has not answered yet';
    let cause: HeartlineError | undefined;
    for (const c of this.candidates()) cause ??= c.endpoint.lastFailure;
    const message = `${inv.target.label}: no available provider of ${inv.target.service} (of ${this.directory.list().length} listed${note})`;
    return withOrigin(new HeartlineError('UNAVAILABLE', cause === undefined ? message : `${message}; last failure: ${keptMessage(cause.message)}`, cause === undefined ? undefined : { cause }), inv.origin);
  }

  /** One candidate per listed provider, rebuilt only when the provider list changes. */
  private candidates(): readonly EndpointCandidate[] {
    const listed = this.directory.list();
    if (this.cache?.listed !== listed) {
      const entries = listed.map((p): EndpointCandidate => {
        const endpoint = this.registry.endpoint(p.address);
        return { key: p.address.key, weight: p.weight, endpoint, activeFor: (k) => endpoint.activeFor(k) };
      });
      this.cache = { listed, entries };
    }
    return this.cache.entries;
  }
}

/** True when every candidate is available (a loop: no closure per call). */
function allAvailable(all: readonly EndpointCandidate[]): boolean {
  for (let i = 0; i < all.length; i++) if (!all[i]!.endpoint.available) return false;
  return true;
}

/** A call waiting for the first listing: ends when it comes, at the call's deadline, when its signal fires (the watcher of it) or when the client closes. */
class ListingWait implements AbortWatcher, CloseWatcher {
  readonly promise: Promise<void>;
  /** Ends the wait (idempotent). */
  wake!: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.promise = new Promise<void>((resolve) => (this.wake = resolve));
    this.timer = setTimeout(this.wake, ms);
  }

  onAbort(): void {
    this.wake();
  }

  onClientClose(): void {
    this.wake();
  }

  end(): void {
    clearTimeout(this.timer);
  }
}
