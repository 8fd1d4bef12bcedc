import { weightedRandom, type Candidate, type LoadBalancer } from './load-balancer.js';

/** Weighted random: a provider with twice the weight gets twice the calls, on average. The default. */
export class RandomLoadBalancer implements LoadBalancer {
  constructor(private readonly random: () => number) {}

  pick(candidates: readonly Candidate[]): Candidate {
    return weightedRandom(candidates, this.random);
  }
}
