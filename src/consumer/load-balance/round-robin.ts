import type { Candidate, Invocation, LoadBalancer } from './load-balancer.js';

/**
 * Smooth weighted round robin, per method: each pick adds every candidate's
 * weight to its running score, takes the highest, and subtracts the total from
 * it. Weights 5:1:1 give a a b a c a a, spread out rather than in bursts.
 */
export class RoundRobinLoadBalancer implements LoadBalancer {
  private readonly scores = new Map<string, Map<string, number>>();

  pick(candidates: readonly Candidate[], invocation: Invocation): Candidate {
    if (candidates.length === 1) return candidates[0]!;
    let scores = this.scores.get(invocation.methodKey);
    if (scores === undefined) {
      scores = new Map();
      this.scores.set(invocation.methodKey, scores);
    }
    let total = 0;
    let best: Candidate | undefined;
    let bestScore = -Infinity;
    for (const c of candidates) {
      const score = (scores.get(c.key) ?? 0) + c.weight;
      scores.set(c.key, score);
      total += c.weight;
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    scores.set(best!.key, bestScore - total);
    if (scores.size > candidates.length * 2) this.prune(scores, candidates);
    return best!;
  }

  /** Forgets providers that are gone, so the table does not grow. */
  private prune(scores: Map<string, number>, candidates: readonly Candidate[]): void {
    const live = new Set(candidates.map((c) => c.key));
    for (const key of scores.keys()) if (!live.has(key)) scores.delete(key);
  }
}
