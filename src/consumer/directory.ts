import { HeartlineError } from '../errors/heartline-error.js';
import { parseAddress, type ProviderAddress } from './address.js';

/** A provider as configured: `'host:port'` or `{ address: 'host:port', weight }`. */
export type ProviderEntry = string | { address: string; weight?: number };

/** A provider in a directory. */
export interface ProviderInfo {
  readonly address: ProviderAddress;
  /** Relative weight for load balancing. Default 100. */
  readonly weight: number;
}

/**
 * The current list of providers of a service, and changes to it. A static list
 * is the embedded default; a registry-backed directory implements the same two
 * methods.
 */
export interface Directory {
  list(): readonly ProviderInfo[];
  /** Calls `listener` after every change; returns a function that unsubscribes. */
  subscribe(listener: (providers: readonly ProviderInfo[]) => void): () => void;
  /**
   * Optional. The client calls it when a connection to `address`, which this
   * directory lists, could not be opened or was lost (not when it was closed
   * on purpose, drained or refused): a directory that can look again, such as
   * DNS, does so soon, within its own rate limit. Must not throw.
   */
  reportFailure?(address: ProviderAddress): void;
  /** Optional: a promise while the first list is still coming (a registry's first answer); calls wait for it within their timeout. */
  loading?(): Promise<void> | undefined;
}

export const DEFAULT_WEIGHT = 100;

export function toProviderInfo(entry: ProviderEntry): ProviderInfo {
  if (typeof entry === 'string') return Object.freeze({ address: parseAddress(entry), weight: DEFAULT_WEIGHT });
  const weight = entry.weight ?? DEFAULT_WEIGHT;
  if (!Number.isFinite(weight) || weight < 0) throw new HeartlineError('INVALID_CONFIG', `invalid weight ${weight} for ${entry.address}`);
  return Object.freeze({ address: parseAddress(entry.address), weight });
}

/** A directory over a fixed list that code may replace with `update()`. */
export class StaticDirectory implements Directory {
  private providers: readonly ProviderInfo[];
  private readonly listeners = new Set<(providers: readonly ProviderInfo[]) => void>();

  constructor(entries: readonly ProviderEntry[]) {
    this.providers = Object.freeze(entries.map(toProviderInfo));
  }

  list(): readonly ProviderInfo[] {
    return this.providers;
  }

  /** Replaces the list and tells subscribers. */
  update(entries: readonly ProviderEntry[]): void {
    this.providers = Object.freeze(entries.map(toProviderInfo));
    for (const listener of [...this.listeners]) listener(this.providers);
  }

  subscribe(listener: (providers: readonly ProviderInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function isDirectory(value: unknown): value is Directory {
  return typeof value === 'object' && value !== null && typeof (value as Directory).list === 'function' && typeof (value as Directory).subscribe === 'function';
}
