import { createHash } from 'node:crypto';
import type { Candidate, Invocation, LoadBalancer } from './load-balancer.js';

/** Turns a call's arguments into the string that is hashed. Default: the first argument. */
export type HashKey = (args: readonly unknown[]) => string;

export const defaultHashKey: HashKey = (args) => {
  const first = args[0];
  return typeof first === 'string' ? first : JSON.stringify(first) ?? 'undefined';
};

interface Ring {
  signature: string;
  points: Uint32Array;
  owners: Candidate[];
}

/** Four 32-bit points from one MD5 digest. */
function md5Points(text: string): number[] {
  const d = createHash('md5').update(text).digest();
  return [d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)];
}

/**
 * Consistent hashing on a ring with `virtualNodes` points per provider: the
 * same key keeps going to the same provider, and when a provider is added or
 * removed only the keys next to its points move.
 */
export class ConsistentHashLoadBalancer implements LoadBalancer {
  private readonly rings = new Map<string, Ring>();

  constructor(
    private readonly hashKey: HashKey = defaultHashKey,
    private readonly virtualNodes = 160,
  ) {}

  pick(candidates: readonly Candidate[], invocation: Invocation): Candidate {
    if (candidates.length === 1) return candidates[0]!;
    const ring = this.ring(candidates, invocation.methodKey);
    const hash = md5Points(this.hashKey(invocation.args))[0]!;
    // First point clockwise from the key's hash, wrapping at the end.
    let lo = 0;
    let hi = ring.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring.points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return ring.owners[lo === ring.points.length ? 0 : lo]!;
  }

  private ring(candidates: readonly Candidate[], methodKey: string): Ring {
    const signature = candidates.map((c) => c.key).join(',');
    const cached = this.rings.get(methodKey);
    if (cached !== undefined && cached.signature === signature) return cached;
    const entries: Array<[number, Candidate]> = [];
    for (const c of candidates) {
      for (let i = 0; i < this.virtualNodes / 4; i++) {
        for (const point of md5Points(`${c.key}#${i}`)) entries.push([point, c]);
      }
    }
    entries.sort((a, b) => a[0] - b[0]);
    const ring: Ring = { signature, points: Uint32Array.from(entries.map((e) => e[0])), owners: entries.map((e) => e[1]) };
    this.rings.set(methodKey, ring);
    return ring;
  }
}
