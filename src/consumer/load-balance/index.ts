import { HeartlineError } from '../../errors/heartline-error.js';
import { ConsistentHashLoadBalancer, type HashKey } from './consistent-hash.js';
import { LeastActiveLoadBalancer } from './least-active.js';
import type { LoadBalanceName, LoadBalancer } from './load-balancer.js';
import { RandomLoadBalancer } from './random.js';
import { RoundRobinLoadBalancer } from './round-robin.js';

export type { Candidate, Invocation, LoadBalanceName, LoadBalancer } from './load-balancer.js';
export type { HashKey } from './consistent-hash.js';

/** A balancer by name; each reference gets its own (round robin and hash rings keep state). */
export function createLoadBalancer(name: LoadBalanceName, random: () => number, hashKey?: HashKey, virtualNodes?: number): LoadBalancer {
  switch (name) {
    case 'random':
      return new RandomLoadBalancer(random);
    case 'roundrobin':
      return new RoundRobinLoadBalancer();
    case 'leastactive':
      return new LeastActiveLoadBalancer(random);
    case 'consistenthash':
      return new ConsistentHashLoadBalancer(hashKey, virtualNodes);
    default:
      throw new HeartlineError('INVALID_CONFIG', `unknown load balancer '${String(name)}'`);
  }
}
