import { afterAll, describe, expect, it } from 'vitest';
import { ConsistentHashLoadBalancer } from '../../src/consumer/load-balance/consistent-hash.js';
import { createLoadBalancer } from '../../src/consumer/load-balance/index.js';
import { LeastActiveLoadBalancer } from '../../src/consumer/load-balance/least-active.js';
import type { Candidate, Invocation, LoadBalancer } from '../../src/consumer/load-balance/load-balancer.js';
import { RandomLoadBalancer } from '../../src/consumer/load-balance/random.js';
import { RoundRobinLoadBalancer } from '../../src/consumer/load-balance/round-robin.js';
import { newClient, useCleanup } from '../helpers/server.js';
import { mulberry32, startWorkProvider, tally, Work, expectNothingOpen } from './cluster-helpers.js';

function candidate(key: string, weight = 100, actives: Record<string, number> = {}): Candidate {
  return { key, weight, activeFor: (methodKey) => actives[methodKey] ?? 0 };
}

const CALL: Invocation = { methodKey: 'svc#m', args: [] };

function picks(lb: LoadBalancer, candidates: readonly Candidate[], n: number, invocation: Invocation = CALL): string[] {
  return Array.from({ length: n }, () => lb.pick(candidates, invocation).key);
}

describe('mulberry32', () => {
  it('is deterministic per seed and uniform enough', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });
});

describe('random (weighted)', () => {
  it('honours weights: 100 vs 300 gives about 1:3 over 20k picks', () => {
    const lb = new RandomLoadBalancer(mulberry32(1));
    const counts = tally(picks(lb, [candidate('a', 100), candidate('b', 300)], 20_000));
    expect(counts.a! + counts.b!).toBe(20_000);
    expect(counts.a! / 20_000).toBeGreaterThan(0.23);
    expect(counts.a! / 20_000).toBeLessThan(0.27);
  });

  it('is uniform over equal weights and never picks a weight-0 provider among weighted ones', () => {
    const lb = new RandomLoadBalancer(mulberry32(2));
    const even = tally(picks(lb, [candidate('a'), candidate('b'), candidate('c')], 30_000));
    for (const k of ['a', 'b', 'c']) expect(Math.abs(even[k]! - 10_000)).toBeLessThan(600);
    const zero = tally(picks(lb, [candidate('a', 0), candidate('b', 100), candidate('c', 50)], 9_000));
    expect(zero.a).toBeUndefined();
    expect(zero.b! / 9_000).toBeGreaterThan(0.62);
    expect(zero.b! / 9_000).toBeLessThan(0.71);
  });

  it('is reproducible with a seeded source', () => {
    const cs = [candidate('a', 10), candidate('b', 20), candidate('c', 70)];
    expect(picks(new RandomLoadBalancer(mulberry32(7)), cs, 200)).toEqual(picks(new RandomLoadBalancer(mulberry32(7)), cs, 200));
  });
});

describe('roundrobin (smooth weighted)', () => {
  it('gives the exact smooth sequence a a b a c a a for weights 5, 1, 1', () => {
    const lb = new RoundRobinLoadBalancer();
    const cs = [candidate('a', 5), candidate('b', 1), candidate('c', 1)];
    const seq = picks(lb, cs, 21);
    expect(seq.join('')).toBe('aabacaa'.repeat(3));
  });

  it('gives exact proportions over whole cycles', () => {
    const lb = new RoundRobinLoadBalancer();
    const cs = [candidate('a', 300), candidate('b', 200), candidate('c', 100)];
    expect(tally(picks(lb, cs, 6_000))).toEqual({ a: 3_000, b: 2_000, c: 1_000 });
    const equal = new RoundRobinLoadBalancer();
    expect(picks(equal, [candidate('x'), candidate('y'), candidate('z')], 6).join('')).toBe('xyzxyz');
  });

  it('keeps separate state per method', () => {
    const lb = new RoundRobinLoadBalancer();
    const cs = [candidate('a'), candidate('b')];
    const m1: Invocation = { methodKey: 'svc#one', args: [] };
    const m2: Invocation = { methodKey: 'svc#two', args: [] };
    expect([lb.pick(cs, m1).key, lb.pick(cs, m2).key, lb.pick(cs, m1).key, lb.pick(cs, m2).key]).toEqual(['a', 'a', 'b', 'b']);
  });

  it('skips a provider that leaves the candidate list and stays fair among the rest', () => {
    const lb = new RoundRobinLoadBalancer();
    const all = [candidate('a'), candidate('b'), candidate('c')];
    picks(lb, all, 5);
    const rest = [all[0]!, all[2]!];
    const counts = tally(picks(lb, rest, 100));
    expect(counts.b).toBeUndefined();
    expect(Math.abs(counts.a! - counts.c!)).toBeLessThanOrEqual(2); // the score left from the removed one skews by at most one pick
    // and no drift: the next 1,000 picks are split exactly
    expect(tally(picks(lb, rest, 1_000))).toEqual({ a: 500, c: 500 });
  });
});

describe('leastactive', () => {
  it('prefers the provider with the fewest active calls of the method', () => {
    const lb = new LeastActiveLoadBalancer(mulberry32(3));
    const cs = [candidate('a', 100, { 'svc#m': 3 }), candidate('b', 100, { 'svc#m': 0 }), candidate('c', 100, { 'svc#m': 2 })];
    expect(new Set(picks(lb, cs, 200))).toEqual(new Set(['b']));
    // Counts of another method do not matter.
    const other = [candidate('a', 100, { 'svc#other': 0, 'svc#m': 1 }), candidate('b', 100, { 'svc#other': 9 })];
    expect(new Set(picks(lb, other, 200))).toEqual(new Set(['b']));
  });

  it('breaks ties randomly (weighted), never choosing a busier provider', () => {
    const lb = new LeastActiveLoadBalancer(mulberry32(4));
    const cs = [candidate('a', 100, { 'svc#m': 1 }), candidate('b', 100, { 'svc#m': 1 }), candidate('c', 100, { 'svc#m': 4 })];
    const counts = tally(picks(lb, cs, 10_000));
    expect(counts.c).toBeUndefined();
    expect(Math.abs(counts.a! - 5_000)).toBeLessThan(400);
    const weighted = tally(picks(lb, [candidate('a', 100), candidate('b', 300)], 20_000));
    expect(weighted.a! / 20_000).toBeGreaterThan(0.23);
    expect(weighted.a! / 20_000).toBeLessThan(0.27);
  });

  it('follows the counts as they change', () => {
    const lb = new LeastActiveLoadBalancer(mulberry32(5));
    const active: Record<string, number> = { a: 0, b: 0, c: 0 };
    const cs = ['a', 'b', 'c'].map((k) => ({ key: k, weight: 100, activeFor: () => active[k]! }));
    // Each pick becomes one more active call on the chosen provider: load stays level.
    for (let i = 0; i < 90; i++) active[lb.pick(cs, CALL).key]!++;
    expect(active).toEqual({ a: 30, b: 30, c: 30 });
  });
});

describe('consistenthash', () => {
  const keys = Array.from({ length: 5_000 }, (_, i) => `user-${i}`);
  const invocation = (k: string): Invocation => ({ methodKey: 'svc#m', args: [k] });

  function assign(lb: LoadBalancer, cs: readonly Candidate[]): Map<string, string> {
    return new Map(keys.map((k) => [k, lb.pick(cs, invocation(k)).key]));
  }

  it('sends the same key to the same provider every time, and spreads keys over all providers', () => {
    const lb = new ConsistentHashLoadBalancer();
    const cs = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1'].map((k) => candidate(k));
    const first = assign(lb, cs);
    expect(assign(lb, cs)).toEqual(first);
    expect(assign(new ConsistentHashLoadBalancer(), [...cs].reverse())).toEqual(first); // order of the list does not matter
    const share = tally([...first.values()]);
    for (const c of cs) expect(share[c.key]! / keys.length).toBeGreaterThan(0.2);
  });

  it('when a provider is added (3 -> 4), most keys stay, and the rest move only to the new provider', () => {
    const lb = new ConsistentHashLoadBalancer();
    const three = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1'].map((k) => candidate(k));
    const before = assign(lb, three);
    const four = [...three, candidate('10.0.0.4:1')];
    const after = assign(lb, four);
    let stayed = 0;
    for (const k of keys) {
      if (before.get(k) === after.get(k)) stayed++;
      else expect(after.get(k)).toBe('10.0.0.4:1');
    }
    expect(stayed / keys.length).toBeGreaterThan(0.6);
    expect(stayed / keys.length).toBeLessThan(0.9); // the new provider does get a share
  });

  it('when a provider is removed, only its keys move', () => {
    const lb = new ConsistentHashLoadBalancer();
    const four = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1', '10.0.0.4:1'].map((k) => candidate(k));
    const before = assign(lb, four);
    const after = assign(lb, four.slice(0, 3));
    for (const k of keys) if (before.get(k) !== '10.0.0.4:1') expect(after.get(k)).toBe(before.get(k));
  });

  it('uses hashKey to choose what is hashed', () => {
    const lb = createLoadBalancer('consistenthash', Math.random, (args) => String((args[0] as { id: number }).id));
    const cs = ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1'].map((k) => candidate(k));
    const owners = new Set(Array.from({ length: 50 }, (_, i) => lb.pick(cs, { methodKey: 'svc#m', args: [{ id: 77, noise: i }] }).key));
    expect(owners.size).toBe(1);
  });
});

describe('load balancing end to end', () => {
  const defer = useCleanup();

  it('roundrobin spreads calls evenly over three real providers', async () => {
    const ps = [await startWorkProvider('a'), await startWorkProvider('b'), await startWorkProvider('c')];
    for (const p of ps) defer(p, (x) => x.close());
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin' }), (c) => c.close());
    const work = client.refer(Work, { providers: ps.map((p) => p.address) });
    const served: string[] = [];
    for (let batch = 0; batch < 10; batch++) served.push(...(await Promise.all(Array.from({ length: 30 }, () => work.whoami()))));
    expect(tally(served)).toEqual({ a: 100, b: 100, c: 100 });
    expect(ps.map((p) => p.impl.count('whoami'))).toEqual([100, 100, 100]);
  });

  it('roundrobin honours weights of real providers exactly, and random honours them roughly', async () => {
    const ps = [await startWorkProvider('a'), await startWorkProvider('b'), await startWorkProvider('c')];
    for (const p of ps) defer(p, (x) => x.close());
    const providers = ps.map((p, i) => ({ address: p.address, weight: 100 * (i + 1) }));
    const client = defer(newClient(undefined, { random: mulberry32(9) }), (c) => c.close());
    const rr = client.refer(Work, { providers, loadbalance: 'roundrobin' });
    expect(tally(await Promise.all(Array.from({ length: 600 }, () => rr.whoami())))).toEqual({ a: 100, b: 200, c: 300 });
    const random = client.refer(Work, { providers });
    const counts = tally(await Promise.all(Array.from({ length: 3_000 }, () => random.whoami())));
    expect(counts.a! / 3_000).toBeGreaterThan(0.12);
    expect(counts.a! / 3_000).toBeLessThan(0.21);
    expect(counts.c! / 3_000).toBeGreaterThan(0.45);
  });

  it('consistenthash sends calls with the same key to the same real provider', async () => {
    const ps = [await startWorkProvider('a'), await startWorkProvider('b'), await startWorkProvider('c')];
    for (const p of ps) defer(p, (x) => x.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const work = client.refer(Work, { providers: ps.map((p) => p.address), loadbalance: 'consistenthash' });
    for (const key of ['alice', 'bob', 'carol', 'dave']) {
      const owners = new Set(await Promise.all(Array.from({ length: 20 }, () => work.record(key))));
      expect(owners.size).toBe(1);
    }
  });

  it('leastactive steers closed-loop traffic away from a slow provider (random does not)', async () => {
    const a = defer(await startWorkProvider('a'), (x) => x.close());
    const b = defer(await startWorkProvider('b'), (x) => x.close());
    a.impl.stallMs = 60; // a is slow, b answers at once
    const share = async (loadbalance: 'leastactive' | 'random'): Promise<number> => {
      const client = defer(newClient(undefined, { loadbalance, random: mulberry32(31) }), (c) => c.close());
      const work = client.refer(Work, { providers: [a.address, b.address] });
      const served: string[] = [];
      const until = performance.now() + 300;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (performance.now() < until) served.push(await work.slow(1));
        }),
      );
      return (tally(served).a ?? 0) / served.length;
    };
    expect(await share('leastactive')).toBeLessThan(0.15);
    expect(await share('random')).toBeGreaterThan(0.3);
  });
});

afterAll(() => expectNothingOpen());
