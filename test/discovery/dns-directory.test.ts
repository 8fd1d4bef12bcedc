// DnsDirectory on its own, with a resolver stub and fake timers: when it looks
// the name up, what it publishes, what a failed lookup does, the rate limit,
// and its one timer.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsDirectory, DnsDirectoryState, silentLogger, type DnsDirectoryOptions, type DnsLookup, type ProviderInfo } from '../../src/index.js';
import { parseAddress } from '../../src/consumer/address.js';
import { expectCode, expectThrowCode } from '../helpers/server.js';

/** A DNS error as node:dns reports it. */
function dnsError(code: string): Error {
  return Object.assign(new Error(`query ${code}`), { code });
}

/**
 * A resolver stub: answers from `records` (name -> type -> addresses or SRV
 * targets), or fails with `failWith` when set; names absent answer ENOTFOUND,
 * types absent ENODATA. Counts the lookups.
 */
class StubResolver implements DnsLookup {
  records: Record<string, { A?: string[]; AAAA?: string[]; SRV?: Array<{ name: string; port: number }> }> = {};
  failWith: string | undefined;
  /** Fails AAAA queries only (a partial answer). */
  failAAAA: string | undefined;
  readonly calls: string[] = [];

  resolve4(name: string): Promise<string[]> {
    return this.answer('A', name) as Promise<string[]>;
  }
  resolve6(name: string): Promise<string[]> {
    return this.answer('AAAA', name) as Promise<string[]>;
  }
  resolveSrv(name: string): Promise<Array<{ name: string; port: number; priority: number; weight: number }>> {
    return (this.answer('SRV', name) as Promise<Array<{ name: string; port: number }>>).then((r) => r.map((x) => ({ ...x, priority: 0, weight: 10 })));
  }
  private async answer(type: 'A' | 'AAAA' | 'SRV', name: string): Promise<unknown[]> {
    this.calls.push(`${type} ${name}`);
    if (this.failWith !== undefined) throw dnsError(this.failWith);
    if (type === 'AAAA' && this.failAAAA !== undefined) throw dnsError(this.failAAAA);
    const entry = this.records[name];
    if (entry === undefined) throw dnsError('ENOTFOUND');
    const found = entry[type];
    if (found === undefined) throw dnsError('ENODATA');
    return [...found];
  }
  /** Lookups of the main name (one per resolution with A/AAAA: the A query). */
  lookupsOf(name: string, type = 'A'): number {
    return this.calls.filter((c) => c === `${type} ${name}`).length;
  }
}

const keys = (list: readonly ProviderInfo[]): string[] => list.map((p) => p.address.key);

describe('DnsDirectory (resolver stub, fake timers)', () => {
  let stub: StubResolver;
  const opened: DnsDirectory[] = [];
  const make = (options: Partial<DnsDirectoryOptions> = {}): DnsDirectory => {
    const d = new DnsDirectory({ name: 'svc.test', port: 7000, resolver: stub, logger: silentLogger, ...options });
    opened.push(d);
    return d;
  };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
    stub = new StubResolver();
    stub.records['svc.test'] = { A: ['10.0.0.2', '10.0.0.1'], AAAA: ['fd00::1'] };
  });
  afterEach(() => {
    for (const d of opened.splice(0)) d.close();
    vi.useRealTimers();
  });

  it('looks up when the first listener subscribes, then every refreshInterval; list() alone starts nothing', async () => {
    const d = make({ refreshInterval: 30_000 });
    expect(d.list()).toEqual([]);
    expect(stub.calls).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    const seen: string[][] = [];
    d.subscribe((list) => seen.push(keys(list)));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([['10.0.0.1:7000', '10.0.0.2:7000', '[fd00::1]:7000']]);
    expect(stub.lookupsOf('svc.test')).toBe(1);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(stub.lookupsOf('svc.test')).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(stub.lookupsOf('svc.test')).toBe(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(stub.lookupsOf('svc.test')).toBe(4);
    expect(seen).toHaveLength(1); // the same answer is not published again
  });

  it('publishes only changes, in a stable order: the same records in another order change nothing', async () => {
    const d = make({ refreshInterval: 1000, minInterval: 100 });
    const seen: string[][] = [];
    d.subscribe((list) => seen.push(keys(list)));
    await vi.advanceTimersByTimeAsync(0);
    const first = d.list();
    stub.records['svc.test'] = { A: ['10.0.0.1', '10.0.0.2', '10.0.0.1'], AAAA: ['fd00::1'] };
    await vi.advanceTimersByTimeAsync(1000);
    expect(d.list()).toBe(first); // the same frozen array: references keep their candidates
    stub.records['svc.test'] = { A: ['10.0.0.3', '10.0.0.1'] };
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual([
      ['10.0.0.1:7000', '10.0.0.2:7000', '[fd00::1]:7000'],
      ['10.0.0.1:7000', '10.0.0.3:7000'],
    ]);
    expect(Object.isFrozen(d.list())).toBe(true);
    expect(d.list().every((p) => p.weight === 100)).toBe(true);
  });

  it('a failed lookup (timeout, SERVFAIL, refused, partial answer) keeps the last list and is retried after minInterval', async () => {
    const warn = vi.fn();
    const d = make({ refreshInterval: 30_000, minInterval: 2000, logger: { warn, error: vi.fn() } });
    const listener = vi.fn();
    d.subscribe(listener);
    await vi.advanceTimersByTimeAsync(0);
    const good = d.list();
    expect(good).toHaveLength(3);
    for (const code of ['ETIMEOUT', 'ESERVFAIL', 'ECONNREFUSED', 'EREFUSED']) {
      stub.failWith = code;
      await vi.advanceTimersByTimeAsync(30_000);
      expect(d.list(), code).toBe(good);
    }
    stub.failWith = undefined;
    stub.failAAAA = 'ETIMEOUT'; // A answers, AAAA times out: the fd00::1 provider must not be dropped
    await vi.advanceTimersByTimeAsync(2000);
    expect(d.list()).toBe(good);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledTimes(1); // once per run of failures
    // Failing for a while, it has backed off towards refreshInterval (see the next test).
    const before = stub.lookupsOf('svc.test');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(stub.lookupsOf('svc.test') - before).toBeLessThanOrEqual(1);
    stub.failAAAA = undefined;
    stub.records['svc.test'] = { A: ['10.0.0.9'] };
    await vi.advanceTimersByTimeAsync(30_000);
    expect(keys(d.list())).toEqual(['10.0.0.9:7000']);
  });

  it('re-subscribing while a lookup from before the stop is still under way starts no second lookup', async () => {
    // The first lookup fails at once; the retry is slow and still under way when the last listener leaves.
    const answers: Array<(addresses: string[]) => void> = [];
    let calls = 0;
    const resolver = {
      resolve4: () => (++calls === 1 ? Promise.reject(dnsError('ESERVFAIL')) : new Promise<string[]>((resolve) => answers.push(resolve))),
      resolve6: async () => [],
      resolveSrv: async () => [],
    };
    const d = new DnsDirectory({ name: 'svc.test', port: 7000, family: 4, resolver, logger: silentLogger, minInterval: 10, refreshInterval: 1000 });
    try {
      const unsubscribe = d.subscribe(() => undefined);
      await vi.advanceTimersByTimeAsync(0); // lookup 1 fails
      await vi.advanceTimersByTimeAsync(10); // lookup 2 starts after minInterval, and hangs
      expect(calls).toBe(2);
      unsubscribe();
      await vi.advanceTimersByTimeAsync(100); // past the retry delay: a new lookup would be allowed
      d.subscribe(() => undefined);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls).toBe(2); // the old one goes on; no second lookup beside it
      answers[0]!(['10.0.0.1']);
      await vi.advanceTimersByTimeAsync(0);
      expect(keys(d.list())).toEqual(['10.0.0.1:7000']);
      await vi.advanceTimersByTimeAsync(1000);
      expect(calls).toBe(3); // and its end scheduled the next refresh
    } finally {
      d.close();
    }
  });

  it('while lookups keep failing, retries back off: minInterval, doubling, at most refreshInterval; a success resets it', async () => {
    stub.failWith = 'ESERVFAIL';
    const d = make({ refreshInterval: 60_000, minInterval: 1000 });
    d.subscribe(() => undefined);
    await vi.advanceTimersByTimeAsync(0); // t = 0: the first lookup fails
    await vi.advanceTimersByTimeAsync(16_000);
    // t = 0, 1000, 3000, 7000, 15000 (a retry every minInterval would make 17)
    expect(stub.lookupsOf('svc.test')).toBe(5);
    await vi.advanceTimersByTimeAsync(120_000); // to t = 136000
    expect(stub.lookupsOf('svc.test')).toBe(8); // then 31000, 63000, and 123000 (capped: refreshInterval after 63000)
    stub.failWith = undefined;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(d.list()).toHaveLength(3);
    const settled = stub.lookupsOf('svc.test');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(stub.lookupsOf('svc.test') - settled).toBe(1); // back to one per refreshInterval
  });

  it('an authoritative answer with no records (NXDOMAIN, NODATA) empties the list', async () => {
    const d = make({ refreshInterval: 1000 });
    const seen: string[][] = [];
    d.subscribe((list) => seen.push(keys(list)));
    await vi.advanceTimersByTimeAsync(0);
    stub.records['svc.test'] = {}; // NODATA for A and AAAA
    await vi.advanceTimersByTimeAsync(1000);
    expect(d.list()).toEqual([]);
    stub.records['svc.test'] = { A: ['10.0.0.1'] };
    await vi.advanceTimersByTimeAsync(1000);
    delete stub.records['svc.test']; // NXDOMAIN
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual([['10.0.0.1:7000', '10.0.0.2:7000', '[fd00::1]:7000'], [], ['10.0.0.1:7000'], []]);
  });

  it('family 4 asks A only, family 6 AAAA only', async () => {
    const v4 = make({ family: 4 });
    const v6 = make({ family: 6 });
    await v4.ready();
    await v6.ready();
    expect(keys(v4.list())).toEqual(['10.0.0.1:7000', '10.0.0.2:7000']);
    expect(keys(v6.list())).toEqual(['[fd00::1]:7000']);
    expect(stub.calls).toEqual(['A svc.test', 'AAAA svc.test']);
  });

  it('srv: each target is resolved to its addresses, with the port of its record; an IP target is used as is', async () => {
    stub.records['_hl._tcp.svc.test'] = { SRV: [{ name: 'p1.test', port: 7001 }, { name: 'p2.test', port: 7002 }, { name: '10.0.0.7', port: 7003 }] };
    stub.records['p1.test'] = { A: ['10.0.0.1'] };
    stub.records['p2.test'] = { A: ['10.0.0.2'], AAAA: ['fd00::2'] };
    const d = make({ name: '_hl._tcp.svc.test', srv: true, port: undefined, weight: 5 });
    expect(keys(await d.ready())).toEqual(['10.0.0.1:7001', '10.0.0.2:7002', '10.0.0.7:7003', '[fd00::2]:7002']);
    expect(d.list().map((p) => p.weight)).toEqual([5, 5, 5, 5]); // the SRV weights (10) are not used
    // A target that cannot be resolved fails the whole lookup: the list stays.
    const good = d.list();
    stub.records['p2.test'] = {};
    stub.failAAAA = 'ETIMEOUT';
    d.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(30_000);
    expect(d.list()).toBe(good);
  });

  it('rate limit: a burst of failure reports causes at most one lookup per minInterval', async () => {
    const d = make({ refreshInterval: 30_000, minInterval: 5000 });
    d.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(stub.lookupsOf('svc.test')).toBe(1);
    const listed = parseAddress('10.0.0.1:7000');
    // 10 s of reports every 10 ms (1000 reports): lookups at 5 s and 10 s only.
    for (let i = 0; i < 1000; i++) {
      d.reportFailure(listed);
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(stub.lookupsOf('svc.test')).toBe(3);
    // A report for an address it does not list changes nothing.
    await vi.advanceTimersByTimeAsync(5000);
    d.reportFailure(parseAddress('10.9.9.9:7000'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(stub.lookupsOf('svc.test')).toBe(3);
  });

  it('a failure report brings the next lookup forward to the rate limit, not to the next refresh', async () => {
    const d = make({ refreshInterval: 30_000, minInterval: 1000 });
    d.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    stub.records['svc.test'] = { A: ['10.0.0.1'] };
    d.reportFailure(parseAddress('10.0.0.2:7000'));
    await vi.advanceTimersByTimeAsync(999);
    expect(stub.lookupsOf('svc.test')).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(keys(d.list())).toEqual(['10.0.0.1:7000']);
    expect(stub.lookupsOf('svc.test')).toBe(2);
    // Then back to the refresh interval.
    await vi.advanceTimersByTimeAsync(29_999);
    expect(stub.lookupsOf('svc.test')).toBe(2);
  });

  it('one timer, unref\'d; none once the last listener unsubscribes or after close(); resubscribing starts again', async () => {
    const d = make({ refreshInterval: 1000, minInterval: 100 });
    const off1 = d.subscribe(() => {});
    const off2 = d.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    expect(d.state).toBe(DnsDirectoryState.Waiting);
    off1();
    off1(); // idempotent: the other subscription stays
    expect(vi.getTimerCount()).toBe(1);
    off2();
    expect(vi.getTimerCount()).toBe(0);
    expect(d.state).toBe(DnsDirectoryState.Stopped);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(stub.lookupsOf('svc.test')).toBe(1);
    // Resubscribing after refreshInterval has passed looks up at once.
    d.subscribe(() => {});
    expect(stub.lookupsOf('svc.test')).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(1);
    d.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(d.state).toBe(DnsDirectoryState.Closed);
    const late = vi.fn();
    d.subscribe(late)();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(stub.lookupsOf('svc.test')).toBe(2);
    expect(late).not.toHaveBeenCalled();
  });

  it('a lookup under way when the last listener leaves sets no timer when it ends', async () => {
    let release!: () => void;
    const slow: DnsLookup = {
      resolve4: () => new Promise((resolve) => (release = () => resolve(['10.0.0.1']))),
      resolve6: async () => [],
      resolveSrv: async () => [],
    };
    const d = make({ resolver: slow, family: 4 });
    d.subscribe(() => {})();
    expect(d.state).toBe(DnsDirectoryState.Stopped);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(keys(d.list())).toEqual(['10.0.0.1:7000']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ready() looks up once and resolves with the list; rejects UNAVAILABLE (cause: the DNS error) when the lookup fails', async () => {
    const d = make({ minInterval: 1000 });
    stub.failWith = 'ETIMEOUT';
    const err = await expectCode(d.ready(), 'UNAVAILABLE');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ETIMEOUT');
    await expectCode(d.ready(), 'UNAVAILABLE'); // within minInterval: no second lookup
    expect(stub.lookupsOf('svc.test')).toBe(1);
    stub.failWith = undefined;
    await vi.advanceTimersByTimeAsync(1000);
    expect(keys(await d.ready())).toHaveLength(3);
    expect(keys(await d.ready())).toHaveLength(3);
    expect(stub.lookupsOf('svc.test')).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ready() rejects CLIENT_CLOSED when close() comes during its lookup, and the late answer is ignored', async () => {
    let release!: () => void;
    const slow: DnsLookup = {
      resolve4: () => new Promise((resolve) => (release = () => resolve(['10.0.0.1']))),
      resolve6: async () => [],
      resolveSrv: async () => [],
    };
    const d = make({ resolver: slow, family: 4 });
    const listener = vi.fn();
    d.subscribe(listener);
    const ready = d.ready();
    d.close();
    release();
    await expectCode(ready, 'CLIENT_CLOSED');
    expect(d.list()).toEqual([]);
    expect(listener).not.toHaveBeenCalled();
    await expectCode(d.ready(), 'CLIENT_CLOSED');
  });

  it('a listener that throws is logged and does not stop the others', async () => {
    const error = vi.fn();
    const d = make({ logger: { warn: vi.fn(), error } });
    const other = vi.fn();
    d.subscribe(() => {
      throw new Error('boom');
    });
    d.subscribe(other);
    await vi.advanceTimersByTimeAsync(0);
    expect(other).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledTimes(1);
  });

  it.each<[string, Partial<DnsDirectoryOptions> & Record<string, unknown>, string]>([
    ['name missing', { name: undefined }, 'name'],
    ['name empty', { name: ' ' }, 'name'],
    ['port missing without srv', { port: undefined }, 'port'],
    ['port 0', { port: 0 }, 'port'],
    ['port 65536', { port: 65536 }, 'port'],
    ['port not an integer', { port: 80.5 }, 'port'],
    ['srv not a boolean', { srv: 'yes' as never }, 'srv'],
    ['family 5', { family: 5 as never }, 'family'],
    ['refreshInterval NaN', { refreshInterval: NaN }, 'refreshInterval'],
    ['refreshInterval 0', { refreshInterval: 0 }, 'refreshInterval'],
    ['refreshInterval Infinity', { refreshInterval: Infinity }, 'refreshInterval'],
    ['minInterval negative', { minInterval: -1 }, 'minInterval'],
    ['minInterval 0 (a failing DNS would be asked in a hot loop)', { minInterval: 0 }, 'minInterval'],
    ['minInterval over refreshInterval', { refreshInterval: 1000, minInterval: 2000 }, 'minInterval'],
    ['weight negative', { weight: -1 }, 'weight'],
    ['weight NaN', { weight: NaN }, 'weight'],
    ['resolver without resolveSrv', { resolver: { resolve4: () => {}, resolve6: () => {} } as never }, 'resolver'],
    ['logger without error', { logger: { warn: () => {} } as never }, 'logger'],
  ])('INVALID_CONFIG: %s', (_label, options, named) => {
    const err = expectThrowCode(() => new DnsDirectory({ name: 'svc.test', port: 7000, resolver: stub, ...options } as DnsDirectoryOptions), 'INVALID_CONFIG');
    expect(err.message).toContain(named);
  });

  it('srv needs no port; minInterval defaults to at most refreshInterval', () => {
    expect(() => new DnsDirectory({ name: '_hl._tcp.svc.test', srv: true, resolver: stub })).not.toThrow();
    expect(() => new DnsDirectory({ name: 'svc.test', port: 1, refreshInterval: 100, resolver: stub })).not.toThrow();
  });
});
