/** Reconnect backoff settings. All times in ms. */
export interface BackoffOptions {
  /** Delay scale of the first retries; the very first reconnect waits a random time in [0, initialDelay]. Default 500. */
  initialDelay?: number;
  /** Growth factor per failed attempt. Default 2. */
  factor?: number;
  /** Largest delay. Default 30000. */
  maxDelay?: number;
  /** Relative jitter: each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = Object.freeze({ initialDelay: 500, factor: 2, maxDelay: 30_000, jitter: 0.2 });

/**
 * The delay before reconnect attempt `attempt` (0 for the first). The first is
 * spread uniformly over [0, initialDelay] so that many consumers that lost the
 * same provider do not come back in the same instant; later ones grow
 * exponentially up to `maxDelay`, each with ±jitter.
 */
export function backoffDelay(attempt: number, options: Required<BackoffOptions>, random: () => number): number {
  if (attempt <= 0) return random() * options.initialDelay;
  const base = Math.min(options.maxDelay, options.initialDelay * options.factor ** attempt);
  const scaled = base * (1 + options.jitter * (2 * random() - 1));
  return Math.max(0, Math.min(options.maxDelay, scaled));
}
