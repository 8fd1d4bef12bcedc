/** A provider a load balancer may pick. */
export interface Candidate {
  /** Address key, `host:port`. */
  readonly key: string;
  /** Relative weight (default 100). */
  readonly weight: number;
  /** Calls of `methodKey` active on this provider from this client. */
  activeFor(methodKey: string): number;
}

/** What a load balancer may look at about a call. */
export interface Invocation {
  /** `service#method`. */
  readonly methodKey: string;
  readonly args: readonly unknown[];
}

/**
 * Picks one of the available candidates (never called with an empty list).
 * Balancers see only candidates and invocations, never connections.
 */
export interface LoadBalancer {
  pick(candidates: readonly Candidate[], invocation: Invocation): Candidate;
}

/** The names accepted by the `loadbalance` option. */
export type LoadBalanceName = 'random' | 'roundrobin' | 'leastactive' | 'consistenthash';

/** Weighted random pick among `candidates` (uniform when all weights are equal). */
export function weightedRandom(candidates: readonly Candidate[], random: () => number): Candidate {
  const n = candidates.length;
  if (n === 1) return candidates[0]!;
  let total = 0;
  let same = true;
  const first = candidates[0]!.weight;
  for (const c of candidates) {
    total += c.weight;
    if (c.weight !== first) same = false;
  }
  if (same || total <= 0) return candidates[Math.floor(random() * n)]!;
  let point = random() * total;
  for (const c of candidates) {
    point -= c.weight;
    if (point < 0) return c;
  }
  return candidates[n - 1]!;
}
