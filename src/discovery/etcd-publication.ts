import type { Lease } from 'etcd3';
import type { Announcement, Publication } from '../provider/publisher.js';
import type { EtcdHost } from './etcd-host.js';
import { announcementRecords } from './provider-record.js';

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
    if (this.state === 'registered' && this.lease !== undefined) void this.write(this.lease).catch((err: Error) => this.failed(err));
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
      this.host.logger.warn(`etcd lease of ${this.announcement.address} not revoked (${(err as Error).message}): its keys expire within ${this.host.ttlSeconds} s`);
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
      this.host.logger.warn(`etcd lease of ${this.announcement.address} lost (${err.message}): registering again`);
      this.failed(err);
    });
    lease.on('keepaliveSucceeded', () => this.host.reportUp());
    lease.on('keepaliveFailed', (err) => this.host.reportDown(err as unknown as Error));
    try {
      await lease.grant();
      await this.write(lease);
    } catch (err) {
      this.failed(err as Error);
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

  /** The lease is gone or an attempt failed: drop it and try again after a backoff. */
  private failed(err: Error): void {
    if (this.state === 'withdrawn' || this.state === 'waiting') return;
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
