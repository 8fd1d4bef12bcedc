import { weightedRandom, type Candidate, type Invocation, type LoadBalancer } from './load-balancer.js';

/**
 * Fewest active calls of this method from this client wins; ties are broken by
 * weighted random. The counts are always maintained (not only when `actives`
 * is set), so this really prefers the idle provider.
 */
export class LeastActiveLoadBalancer implements LoadBalancer {
  constructor(private readonly random: () => number) {}

  pick(candidates: readonly Candidate[], invocation: Invocation): Candidate {
    if (candidates.length === 1) return candidates[0]!;
    let least = Infinity;
    let tied: Candidate[] = [];
    for (const c of candidates) {
      const active = c.activeFor(invocation.methodKey);
      if (active < least) {
        least = active;
        tied = [c];
      } else if (active === least) {
        tied.push(c);
      }
    }
    return weightedRandom(tied, this.random);
  }
}
