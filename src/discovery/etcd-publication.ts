import type { Lease } from 'etcd3';
import type { Announcement, Publication } from '../provider/publisher.js';
import type { EtcdHost } from './etcd-host.js';
import { announcementRecords } from './provider-record.js';
import { logErr } from '../transport/log-fields.js';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 1000;

/**
 * `registering` (granting a lease and writing the keys) -> `registered`
 * (the lease is kept alive) -> on a lost lease, or a failed attempt:
 * `waiting` (a retry timer) -> `registering` ... ; `withdrawn` is final.
 */
type PublicationState = 'registering' | 'registered' | 'waiting' | 'withdrawn';

/**
 * One provider's records in etcd, bound to one lease that etcd3 keeps alive
 * (a keepalive every TTL / 3). When the lease is lost (etcd said it expired,
 * or no keepalive succeeded for 2 × TTL), a new lease is granted and the
 * records written again, retried until etcd answers: a provider re-registers
 * by itself after any outage, even one its lease did not survive.
 */
export class EtcdPublication implements Publication {
  readonly first: Promise<void>;
  private state: PublicationState = 'registering';
  private announcement: Announcement;
  private lease: Lease | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delay = RETRY_MIN_MS;
  private withdrawing: Promise<void> | undefined;
  /** Bumped by every update(): a registration that wrote an older announcement writes again. */
  private version = 0;
  /** Writes under the registered lease, one after another (each writes the latest announcement). */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: EtcdHost,
    private readonly prefix: string,
    announcement: Announcement,
    private readonly onWithdrawn: (p: EtcdPublication) => void,
  ) {
    this.announcement = announcement;
    this.first = this.register();
    this.first.catch(() => undefined); // the caller decides whether it cares; the retry is under way
  }

  update(announcement: Announcement): void {
    this.announcement = announcement;
    this.version++;
    // While registering, register() sees the new version and writes again; while waiting, the next attempt writes it.
    const lease = this.lease;
    if (this.state !== 'registered' || lease === undefined) return;
    this.writes = this.writes.then(() => (this.lease === lease ? this.write(lease) : undefined)).catch((err: Error) => this.failed(err, lease));
  }

  withdraw(): Promise<void> {
    this.withdrawing ??= this.revoke();
    return this.withdrawing;
  }

  private async revoke(): Promise<void> {
    this.state = 'withdrawn';
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const lease = this.lease;
    this.lease = undefined;
    this.onWithdrawn(this);
    if (lease === undefined) return;
    try {
      await lease.revoke(); // deletes every key bound to it; bounded by the registry's requestTimeout
    } catch (err) {
      lease.release();
      this.host.logger.warn({ advertise: this.announcement.address, err: logErr(err, 'UNAVAILABLE') }, `etcd lease of ${this.announcement.address} not revoked (${(err as Error).message}): its keys expire within ${this.host.ttlSeconds} s`);
    }
  }

  private async register(): Promise<void> {
    this.state = 'registering';
    let lease: Lease;
    try {
      const etcd = await this.host.client();
      if (this.withdrawn) return;
      lease = etcd.lease(this.host.ttlSeconds);
    } catch (err) {
      this.failed(err as Error);
      throw err;
    }
    this.lease = lease;
    lease.on('lost', (err) => {
      if (this.lease !== lease || this.state === 'withdrawn') return;
      this.host.logger.warn({ advertise: this.announcement.address, err: logErr(err, 'UNAVAILABLE') }, `etcd lease of ${this.announcement.address} lost (${err.message}): registering again`);
      this.failed(err, lease);
    });
    lease.on('keepaliveSucceeded', () => this.host.reportUp());
    lease.on('keepaliveFailed', (err) => this.host.reportDown(err as unknown as Error));
    try {
      await lease.grant();
      // An update() during the write changed what must be published: write again until it is the latest.
      let written: number;
      do {
        written = this.version;
        await this.write(lease);
      } while (written !== this.version && this.lease === lease && !this.withdrawn);
    } catch (err) {
      this.failed(err as Error, lease);
      throw err;
    }
    if (this.lease !== lease || this.withdrawn) return;
    this.state = 'registered';
    this.delay = RETRY_MIN_MS;
    this.host.reportUp();
  }

  /** Read through a getter: TypeScript would keep `state` narrowed across the awaits. */
  private get withdrawn(): boolean {
    return this.state === 'withdrawn';
  }

  /** Puts every record with the lease. */
  private async write(lease: Lease): Promise<void> {
    await Promise.all(announcementRecords(this.prefix, this.announcement).map((r) => lease.put(r.key).value(r.value).exec()));
  }

  /**
   * The lease is gone or an attempt failed: drop it and try again after a
   * backoff. A failure of an older lease's request (`lease` given and no longer
   * the current one) is stale: the current attempt is left alone.
   */
  private failed(err: Error, lease?: Lease): void {
    if (this.state === 'withdrawn' || this.state === 'waiting') return;
    if (lease !== undefined && lease !== this.lease) return;
    this.host.reportDown(err);
    const old = this.lease;
    this.lease = undefined;
    old?.release(); // stop its keepalives; if etcd still has it, its keys move to the next lease on the next put
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.register().catch(() => undefined);
    }, this.delay);
    this.retryTimer.unref();
    this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
  }
}
