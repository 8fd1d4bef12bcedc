// The one-listener-per-signal registry (src/exchange/abort-watch.ts).
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { abortWatcherCount, unwatchAbort, watchAbort, type AbortWatcher } from '../../src/exchange/abort-watch.js';

function watcher(log: string[], name: string, onAbort?: () => void): AbortWatcher {
  return { onAbort: () => { log.push(name); onAbort?.(); } };
}

describe('abort-watch', () => {
  it('one listener for many watchers, added with the first and removed with the last', () => {
    const c = new AbortController();
    const log: string[] = [];
    const ws = Array.from({ length: 50 }, (_, i) => watcher(log, `w${i}`));
    for (const w of ws) expect(watchAbort(c.signal, w)).toBe(true);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1);
    expect(abortWatcherCount(c.signal)).toBe(50);
    for (const w of ws) unwatchAbort(c.signal, w);
    unwatchAbort(c.signal, ws[0]!); // idempotent
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
    c.abort();
    expect(log).toEqual([]);
  });

  it('each watcher hears the abort once, in order; one removed by another meanwhile is skipped; none is left', () => {
    const c = new AbortController();
    const log: string[] = [];
    const b = watcher(log, 'b');
    watchAbort(c.signal, watcher(log, 'a', () => unwatchAbort(c.signal, b)));
    watchAbort(c.signal, b);
    watchAbort(c.signal, watcher(log, 'c'));
    c.abort();
    c.abort();
    expect(log).toEqual(['a', 'c']);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
    expect(watchAbort(c.signal, watcher(log, 'late'))).toBe(false);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });

  it('a watcher that throws does not stop the others, and nothing is left', async () => {
    const c = new AbortController();
    const log: string[] = [];
    watchAbort(c.signal, watcher(log, 'a', () => { throw new Error('boom'); }));
    watchAbort(c.signal, watcher(log, 'b'));
    const uncaught: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (err) => uncaught.push(err));
    try {
      c.abort();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const l of listeners) process.on('uncaughtException', l);
    }
    expect(log).toEqual(['a', 'b']);
    expect((uncaught[0] as Error | undefined)?.message).toBe('boom');
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });
});
