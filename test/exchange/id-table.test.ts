// IdTable against a Map: the same answers under any sequence of sets and deletes,
// sequential ids (one connection's), ids a peer chose to collide, and a bounded size.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { IdTable } from '../../src/exchange/id-table.js';

type Op = { set: number } | { del: number };

function check(ops: Op[]): void {
  const t = new IdTable<string>();
  const m = new Map<number, string>();
  for (const op of ops) {
    if ('set' in op) {
      t.set(op.set, `v${op.set}`);
      m.set(op.set, `v${op.set}`);
    } else {
      expect(t.delete(op.del)).toBe(m.delete(op.del));
    }
    expect(t.size).toBe(m.size);
  }
  for (const [k, v] of m) expect(t.get(k)).toBe(v);
  expect(t.ids().sort((a, b) => a - b)).toEqual([...m.keys()].sort((a, b) => a - b));
  expect(t.values().sort()).toEqual([...m.values()].sort());
}

describe('IdTable', () => {
  it('answers as a Map does, for random ids from 0 to 2^32 - 1 (and small ranges, for collisions; 0 is no empty slot)', () => {
    const id = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 16 }).map((x) => x * 1024));
    const op = fc.oneof(id.map((set) => ({ set })), id.map((del) => ({ del })));
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => check(ops)), { numRuns: 300 });
  });

  it('one connection: sequential ids, 32 in flight, for 20k calls; wraps at 2^32 - 1', () => {
    const t = new IdTable<number>();
    let next = 0xffffffff - 10_000;
    const live: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      next = next >= 0xffffffff ? 1 : next + 1;
      t.set(next, i);
      live.push(next);
      if (live.length > 32) expect(t.delete(live.shift()!)).toBe(true);
    }
    expect(t.size).toBe(32);
    for (const id of live) expect(t.get(id)).toBeDefined();
    for (const id of live) t.delete(id);
    expect(t.size).toBe(0);
    expect(t.get(live[0]!)).toBeUndefined();
  });

  it('does not resize back and forth while its count swings across a threshold', () => {
    const t = new IdTable<number>();
    const resizes = vi.spyOn(t as unknown as { resize(n: number): void }, 'resize');
    let id = 0;
    for (let round = 0; round < 1000; round++) {
      const batch: number[] = [];
      for (let i = 0; i < 32; i++) t.set((batch[i] = ++id), id);
      for (const x of batch) t.delete(x);
    }
    expect(resizes.mock.calls.length).toBeLessThanOrEqual(10);
  });

  it('ids picked to collide under the unkeyed hash do not pile up in one run (the key is random per table)', () => {
    // inv * t * 0x9e3779b1 = t (mod 2^32): unkeyed, ids inv * t (t < 2^20) all hash to slot 0 of a 1024-slot table.
    let inv = 0x9e3779b1;
    for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(0x9e3779b1, inv));
    const t = new IdTable<number>();
    for (let i = 1; i <= 400; i++) t.set(Math.imul(inv, i * 997) >>> 0 || 1, i);
    const table = t as unknown as { keys: Uint32Array; home(id: number): number };
    const mask = table.keys.length - 1;
    let worst = 0;
    for (let i = 0; i < table.keys.length; i++) if (table.keys[i] !== 0) worst = Math.max(worst, (i - table.home(table.keys[i]!)) & mask);
    expect(table.keys.length).toBe(1024);
    expect(worst).toBeLessThan(40);
  });

  it('shrinks back after a burst, and clear() empties it', () => {
    const t = new IdTable<number>();
    for (let id = 1; id <= 10_000; id++) t.set(id, id);
    for (let id = 1; id <= 10_000; id++) t.delete(id);
    expect(t.size).toBe(0);
    // It shrinks only after as many deletes as it has slots: sets and deletes of one more id let it.
    for (let id = 1; id <= 100_000; id++) {
      t.set(id, id);
      t.delete(id);
    }
    expect((t as unknown as { keys: Uint32Array }).keys.length).toBeLessThanOrEqual(32);
    t.set(5, 5);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.get(5)).toBeUndefined();
  });
});
