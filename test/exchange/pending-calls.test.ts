// The pending table: every call settles once, deadlines expire in order, and a
// deadline queue holds a bounded number of settled calls' slots.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartlineError } from '../../src/errors/heartline-error.js';
import { PendingCalls, type PendingCall } from '../../src/exchange/pending-calls.js';
import { now } from '../../src/transport/clock.js';

interface TestCall extends PendingCall {
  outcome: string[];
}

function makeCall(id: number, timeout: number, outcome: string[] = []): TestCall {
  return {
    id,
    request: { label: `t#${id}`, timeout, origin: undefined },
    seq: 0,
    deadline: Infinity,
    outcome,
    resolve(value) {
      outcome.push(`${id}:ok:${String(value)}`);
    },
    reject(err) {
      outcome.push(`${id}:${err.code}`);
    },
  };
}

describe('PendingCalls', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function table(): PendingCalls<TestCall> {
    const t: PendingCalls<TestCall> = new PendingCalls<TestCall>((call) => t.fail(call, new HeartlineError('TIMEOUT', 'late')));
    return t;
  }

  it('expires calls in deadline order across timeouts, skipping those settled in between', () => {
    const t = table();
    const log: string[] = [];
    const at = now();
    const a = makeCall(1, 100, log);
    const b = makeCall(2, 50, log);
    const c = makeCall(3, 100, log);
    const d = makeCall(4, 100, log);
    t.add(a, at);
    t.add(b, at);
    t.add(c, at);
    t.add(d, at + 10);
    t.take(3)!.resolve('x'); // c settles before its deadline
    vi.advanceTimersByTime(60);
    expect(log).toEqual(['3:ok:x', '2:TIMEOUT']);
    vi.advanceTimersByTime(45);
    expect(log).toEqual(['3:ok:x', '2:TIMEOUT', '1:TIMEOUT']);
    vi.advanceTimersByTime(20);
    expect(log).toEqual(['3:ok:x', '2:TIMEOUT', '1:TIMEOUT', '4:TIMEOUT']);
    expect(t.size).toBe(0);
    expect(t.fail(a, new HeartlineError('TIMEOUT', 'again'))).toBe(false); // settled once
  });

  it('a call without a timeout never expires; take() of a settled id counts a late response', () => {
    const t = table();
    const log: string[] = [];
    t.add(makeCall(1, 0, log));
    vi.advanceTimersByTime(1_000_000);
    expect(log).toEqual([]);
    t.take(1)!.resolve(1);
    expect(t.take(1)).toBeUndefined();
    expect(t.lateResponses).toBe(1);
  });

  it('one long call at the head: the settled calls behind it do not pile up in its deadline queue', () => {
    const t = table();
    const log: string[] = [];
    const at = now();
    t.add(makeCall(1, 60_000, log), at);
    for (let id = 2; id < 100_000; id++) {
      t.add(makeCall(id, 60_000, log), at);
      t.take(id)!.resolve(id);
    }
    expect(t.size).toBe(1);
    expect(t.queuedFor(60_000)).toBeLessThanOrEqual(2 * 1 + 64 + 1);
    // Settled calls in order: the queue empties itself.
    t.take(1)!.resolve(1);
    t.add(makeCall(100_000, 60_000, log), at);
    expect(t.queuedFor(60_000)).toBe(1);
    vi.advanceTimersByTime(60_001);
    expect(log.at(-1)).toBe('100000:TIMEOUT');
    expect(t.size).toBe(0);
  });

  it('takeAll removes every call unsettled; failAll settles each once with whether it was written', () => {
    const t = table();
    const log: string[] = [];
    const a = makeCall(1, 100, log);
    const b = makeCall(2, 100, log);
    t.add(a);
    t.add(b);
    a.seq = 1;
    b.seq = 5;
    t.failAll((seq) => seq <= 3, 'gone');
    expect(log).toEqual(['1:CONNECTION_LOST_WRITTEN', '2:CONNECTION_LOST_UNWRITTEN']);
    vi.advanceTimersByTime(200);
    expect(log.length).toBe(2);
    t.add(makeCall(3, 100, log));
    expect(t.takeAll().map((c) => c.id)).toEqual([3]);
    vi.advanceTimersByTime(200);
    expect(log.length).toBe(2);
  });
});
