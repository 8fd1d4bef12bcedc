import { MAX_TIMER_MS } from '../protocol/constants.js';

/** What the expiry clock needs of its connection. */
export interface ExpiryLink {
  /** The credentials expired: drain the connection (calls in flight may finish). */
  credentialsExpired(): void;
  /** The grace period after the drain ended: close what is left. */
  expiryGraceOver(): void;
}

/**
 * The two clocks of a connection whose credentials expire (`Authenticated.expiresAt`):
 * first until the expiry (epoch ms, read with `Date.now()`: it is wall-clock
 * time), then, once the connection is drained, until the end of its grace
 * period. Each is one unref'd timer; a delay past what a Node timer takes is
 * waited for in steps. `cancel()` is idempotent and clears both; every close
 * path calls it.
 */
export class CredentialsExpiry {
  private expiryTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: ExpiryLink,
    private readonly expiresAt: number,
  ) {}

  /** Arms the expiry clock (a no-op for an infinite `expiresAt`). */
  start(): void {
    this.cancel();
    this.arm();
  }

  /** After the drain: closes the connection `gracePeriod` ms from now. */
  startGrace(gracePeriod: number): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(onGraceOver, Math.min(gracePeriod, MAX_TIMER_MS), this);
    this.graceTimer.unref();
  }

  cancel(): void {
    clearTimeout(this.expiryTimer);
    clearTimeout(this.graceTimer);
    this.expiryTimer = undefined;
    this.graceTimer = undefined;
  }

  /** @internal The expiry timer fired: expired, or (a long delay, or a clock that moved) wait again. */
  expiryReached(): void {
    this.expiryTimer = undefined;
    if (Date.now() >= this.expiresAt) this.link.credentialsExpired();
    else this.arm();
  }

  /** @internal */
  graceOver(): void {
    this.graceTimer = undefined;
    this.link.expiryGraceOver();
  }

  private arm(): void {
    if (this.expiresAt === Infinity) return;
    const left = Math.max(0, Math.min(this.expiresAt - Date.now(), MAX_TIMER_MS));
    this.expiryTimer = setTimeout(onExpiry, left, this);
    this.expiryTimer.unref();
  }
}

function onExpiry(expiry: CredentialsExpiry): void {
  expiry.expiryReached();
}

function onGraceOver(expiry: CredentialsExpiry): void {
  expiry.graceOver();
}
