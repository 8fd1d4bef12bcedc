import { parseAddress } from '../consumer/address.js';
import type { Directory, ProviderInfo } from '../consumer/directory.js';
import { callGuarded } from '../transport/guarded.js';
import { logErr } from '../transport/log-fields.js';
import type { EtcdHost } from './etcd-host.js';
import { classifyKey, parseRecordWeight, parseWeight, PROVIDERS } from './provider-record.js';

interface KeyValue {
  key: Buffer;
  value: Buffer;
}

/** The part of etcd3's Watcher this file uses. */
interface WatcherLike {
  on(event: 'put' | 'delete', handler: (kv: KeyValue) => void): unknown;
  on(event: 'connected', handler: () => void): unknown;
  on(event: 'disconnected' | 'error', handler: (err: Error) => void): unknown;
  cancel(): Promise<void>;
}

/** Retry pace of the first listing while etcd does not answer. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 1000;

/**
 * The providers of one service version and group in etcd: it lists the keys
 * under `<prefix>/<service>/<version>/<group>/`, then watches them from the
 * revision of that listing, so no change falls between the two. It runs
 * while someone subscribes (the client follows it while a reference uses it).
 *
 * Only an explicit deletion (a revoked or expired lease, a deleted key)
 * removes a provider: while etcd is unreachable the watch reconnects by
 * itself from its last revision, and the list stays as it was.
 */
export class EtcdDirectory implements Directory {
  private providers: readonly ProviderInfo[] = Object.freeze([]);
  /** Address -> weight of its record. */
  private readonly records = new Map<string, number>();
  /** Address -> operator's weight (`weights/` keys). */
  private readonly overrides = new Map<string, number>();
  private readonly listeners = new Set<(providers: readonly ProviderInfo[]) => void>();
  /** Bumped by every start and stop: a run of an older generation stops itself. */
  private generation = 0;
  private watcher: WatcherLike | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Settles at the first listing of this run; undefined once listed. */
  private firstListing: { promise: Promise<void>; resolve: () => void } | undefined;
  private notifyScheduled = false;

  constructor(
    private readonly host: EtcdHost,
    /** `<prefix>/<service>/<version>/<group>/`. */
    readonly keyPrefix: string,
  ) {}

  list(): readonly ProviderInfo[] {
    return this.providers;
  }

  /** A promise while the first listing has not arrived (calls wait for it within their timeout); undefined after. */
  loading(): Promise<void> | undefined {
    return this.firstListing?.promise;
  }

  subscribe(listener: (providers: readonly ProviderInfo[]) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      if (this.listeners.delete(listener) && this.listeners.size === 0) this.stop();
    };
  }

  /** Stops watching (the registry closes). */
  stop(): void {
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const w = this.watcher;
    this.watcher = undefined;
    if (w !== undefined) void w.cancel().catch(() => undefined);
    // Nobody follows the list any longer: the next subscriber starts from a fresh listing.
    this.firstListing?.resolve();
    this.firstListing = undefined;
  }

  private start(): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstListing = { promise, resolve };
    void this.listAndWatch(++this.generation, RETRY_MIN_MS);
  }

  private async listAndWatch(generation: number, delay: number): Promise<void> {
    try {
      const etcd = await this.host.client();
      if (generation !== this.generation) return;
      const res = await etcd.getAll().prefix(this.keyPrefix).exec();
      if (generation !== this.generation) return;
      this.host.reportUp();
      this.records.clear();
      this.overrides.clear();
      for (const kv of res.kvs) this.put(kv as KeyValue);
      this.recompute();
      const revision = BigInt(String(res.header.revision)) + 1n;
      const w = etcd.watch().prefix(this.keyPrefix).startRevision(revision.toString()).watcher() as unknown as WatcherLike;
      this.watcher = w;
      w.on('put', (kv) => this.changed(generation, () => this.put(kv)));
      w.on('delete', (kv) => this.changed(generation, () => this.delete(kv)));
      w.on('connected', () => this.host.reportUp());
      w.on('disconnected', (err) => this.host.reportDown(err));
      // A watch etcd cancelled (its revision was compacted away): list again.
      w.on('error', (err) => {
        if (generation !== this.generation) return;
        this.host.logger.warn({ prefix: this.keyPrefix, err: logErr(err, 'UNAVAILABLE') }, `etcd watch on ${this.keyPrefix} failed, listing again: ${err.message}`);
        void w.cancel().catch(() => undefined);
        this.watcher = undefined;
        void this.listAndWatch(++this.generation, RETRY_MIN_MS);
      });
      this.firstListing?.resolve();
      this.firstListing = undefined;
    } catch (err) {
      if (generation !== this.generation) return;
      if (this.host.closed) {
        // The registry was closed: no list will ever come. Calls waiting for one stop waiting (UNAVAILABLE).
        this.firstListing?.resolve();
        this.firstListing = undefined;
        return;
      }
      this.host.reportDown(err as Error);
      this.retryTimer = setTimeout(() => void this.listAndWatch(generation, Math.min(delay * 2, RETRY_MAX_MS)), delay);
      this.retryTimer.unref();
    }
  }

  private changed(generation: number, apply: () => void): void {
    if (generation !== this.generation) return;
    apply();
    // A watch response carries many events: recompute once for all of them.
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    queueMicrotask(() => {
      this.notifyScheduled = false;
      if (generation === this.generation) this.recompute();
    });
  }

  private put(kv: KeyValue): void {
    const which = classifyKey(kv.key.toString().slice(this.keyPrefix.length));
    if (which === undefined) return;
    const value = kv.value.toString();
    const weight = which.kind === PROVIDERS ? parseRecordWeight(value, which.address) : parseWeight(value);
    if (typeof weight === 'string' || !validAddress(which.address)) {
      this.host.logger.warn({ key: kv.key.toString() }, `etcd key ${kv.key.toString()} ignored: ${typeof weight === 'string' ? weight : 'not a host:port address'}`);
      // A bad value replaces a good one: the key no longer names a usable provider or weight.
      (which.kind === PROVIDERS ? this.records : this.overrides).delete(which.address);
      return;
    }
    (which.kind === PROVIDERS ? this.records : this.overrides).set(which.address, weight);
  }

  private delete(kv: KeyValue): void {
    const which = classifyKey(kv.key.toString().slice(this.keyPrefix.length));
    if (which !== undefined) (which.kind === PROVIDERS ? this.records : this.overrides).delete(which.address);
  }

  /** Rebuilds the list; tells subscribers only when it changed (a re-registration with the same record changes nothing). */
  private recompute(): void {
    const next: ProviderInfo[] = [];
    for (const [address, weight] of this.records) {
      next.push(Object.freeze({ address: parseAddress(address), weight: this.overrides.get(address) ?? weight }));
    }
    next.sort((a, b) => (a.address.key < b.address.key ? -1 : a.address.key > b.address.key ? 1 : 0));
    if (next.length === this.providers.length && next.every((p, i) => p.address.key === this.providers[i]!.address.key && p.weight === this.providers[i]!.weight)) return;
    this.providers = Object.freeze(next);
    for (const listener of [...this.listeners]) callGuarded(this.host.logger, `a directory listener of ${this.keyPrefix}`, listener, undefined, [this.providers]);
  }
}

function validAddress(text: string): boolean {
  try {
    parseAddress(text);
    return true;
  } catch {
    return false;
  }
}
