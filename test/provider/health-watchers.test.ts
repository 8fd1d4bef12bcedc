// The serving-status table and the health watchers, without sockets: the
// status rules of protocol.md 10.2, and the watchers' bookkeeping with fake
// callbacks whose pushes the test settles by hand.
import { describe, expect, it } from 'vitest';
import type { ServingStatus } from '../../src/index.js';
import { HealthWatchers, type StatusCallback } from '../../src/provider/health-watchers.js';
import { ServingStatusTable } from '../../src/provider/serving-status.js';
import { expectThrowCode } from '../helpers/server.js';

/** A fake callback proxy: records pushes, each settled by the test. */
function fakeCallback(released = false) {
  const pushes: Array<{ status: ServingStatus; resolve: () => void; reject: (err: Error) => void }> = [];
  const listeners: Array<() => void> = [];
  const state = { released };
  const fn = ((status: ServingStatus) =>
    new Promise<void>((resolve, reject) => {
      pushes.push({ status, resolve, reject });
    })) as unknown as StatusCallback;
  Object.defineProperties(fn, {
    released: { get: () => state.released },
    release: {
      value: () => {
        if (state.released) return;
        state.released = true;
        for (const l of listeners.splice(0)) l();
      },
    },
    onRelease: { value: (l: () => void) => (state.released ? l() : listeners.push(l)) },
  });
  return { fn, pushes, statuses: () => pushes.map((p) => p.status) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ServingStatusTable', () => {
  it('applies the rules in order: closing, the provider, unknown names, the provider NOT_SERVING, the service', () => {
    const served = new Set(['a', 'b']);
    const table = new ServingStatusTable((n) => served.has(n));
    expect([table.statusOf(''), table.statusOf('a'), table.statusOf('zzz')]).toEqual(['SERVING', 'SERVING', 'UNKNOWN']);
    table.set('a', 'NOT_SERVING');
    expect([table.statusOf('a'), table.statusOf('b')]).toEqual(['NOT_SERVING', 'SERVING']);
    table.set('', 'NOT_SERVING');
    expect([table.statusOf(''), table.statusOf('b'), table.statusOf('zzz')]).toEqual(['NOT_SERVING', 'NOT_SERVING', 'UNKNOWN']);
    table.set('', 'SERVING');
    table.close();
    expect([table.statusOf(''), table.statusOf('b'), table.statusOf('zzz')]).toEqual(['NOT_SERVING', 'NOT_SERVING', 'NOT_SERVING']);
    table.set('', 'SERVING');
    expect(table.statusOf('')).toBe('NOT_SERVING');
  });

  it('refuses unknown names and statuses with INVALID_CONFIG, changing nothing', () => {
    const table = new ServingStatusTable((n) => n === 'a');
    let changes = 0;
    table.onChange(() => changes++);
    expectThrowCode(() => table.set('b', 'NOT_SERVING'), 'INVALID_CONFIG');
    expectThrowCode(() => table.set('a', 'DOWN' as 'SERVING'), 'INVALID_CONFIG');
    expectThrowCode(() => table.set(1 as unknown as string, 'SERVING'), 'INVALID_CONFIG');
    expect(changes).toBe(0);
    table.set('a', 'NOT_SERVING');
    table.close();
    table.close();
    expect(changes).toBe(2);
  });
});

describe('HealthWatchers', () => {
  function setup() {
    let status: ServingStatus = 'SERVING';
    const watchers = new HealthWatchers(() => status);
    return { watchers, set: (s: ServingStatus) => ((status = s), watchers.refresh()) };
  }

  it('pushes changes only, one at a time, then the latest', async () => {
    const { watchers, set } = setup();
    const cb = fakeCallback();
    expect(watchers.add('', cb.fn)).toBe('SERVING');
    set('SERVING');
    expect(cb.statuses()).toEqual([]);
    set('NOT_SERVING');
    set('SERVING');
    set('NOT_SERVING');
    set('UNKNOWN');
    expect(cb.statuses()).toEqual(['NOT_SERVING']);
    cb.pushes[0]!.resolve();
    await tick();
    expect(cb.statuses()).toEqual(['NOT_SERVING', 'UNKNOWN']);
    cb.pushes[1]!.resolve();
    await tick();
    expect(cb.statuses()).toEqual(['NOT_SERVING', 'UNKNOWN']);
    expect(watchers.size).toBe(1);
  });

  it('a failed push removes the watcher and releases its callback', async () => {
    const { watchers, set } = setup();
    const cb = fakeCallback();
    watchers.add('', cb.fn);
    set('NOT_SERVING');
    cb.pushes[0]!.reject(new Error('gone'));
    await tick();
    expect(watchers.size).toBe(0);
    expect(cb.fn.released).toBe(true);
    set('SERVING');
    expect(cb.statuses()).toEqual(['NOT_SERVING']);
  });

  it('a push that throws synchronously is a failed push', async () => {
    const { watchers, set } = setup();
    const cb = fakeCallback();
    const throwing = Object.assign(() => {
      throw new Error('sync');
    }, { released: false, release: cb.fn.release, onRelease: cb.fn.onRelease }) as unknown as StatusCallback;
    watchers.add('', throwing);
    expect(() => set('NOT_SERVING')).not.toThrow();
    await tick();
    expect(watchers.size).toBe(0);
  });

  it('release removes the watcher; a callback released already is not kept', () => {
    const { watchers } = setup();
    const cb = fakeCallback();
    watchers.add('', cb.fn);
    cb.fn.release();
    expect(watchers.size).toBe(0);
    expect(watchers.add('', fakeCallback(true).fn)).toBe('SERVING');
    expect(watchers.size).toBe(0);
  });

  it('watching again with the same callback moves the watch, and resets what it last heard', async () => {
    let a: ServingStatus = 'SERVING';
    let b: ServingStatus = 'NOT_SERVING';
    const watchers = new HealthWatchers((s) => (s === 'a' ? a : b));
    const cb = fakeCallback();
    expect(watchers.add('a', cb.fn)).toBe('SERVING');
    expect(watchers.add('b', cb.fn)).toBe('NOT_SERVING');
    expect(watchers.size).toBe(1);
    a = 'NOT_SERVING';
    watchers.refresh();
    expect(cb.statuses()).toEqual([]);
    b = 'SERVING';
    watchers.refresh();
    expect(cb.statuses()).toEqual(['SERVING']);
  });
});
