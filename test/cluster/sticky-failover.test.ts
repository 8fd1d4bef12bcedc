import { afterAll, describe, expect, it } from 'vitest';
import { HeartlineError } from '../../src/index.js';
import { expectCode, freePort, newClient, useCleanup, waitFor } from '../helpers/server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { FAST_RECONNECT, mulberry32, sleep, startWorkProvider, tally, Work, type WorkProvider, expectNothingOpen } from './cluster-helpers.js';

describe('sticky and cluster modes', () => {
  const defer = useCleanup();

  async function providers(n: number, options: Parameters<typeof startWorkProvider>[1] = {}): Promise<WorkProvider[]> {
    const out: WorkProvider[] = [];
    for (let i = 0; i < n; i++) out.push(defer(await startWorkProvider(String.fromCharCode(97 + i), options), (p) => p.close()));
    return out;
  }

  /** Providers behind TCP proxies, so a test can make one vanish abruptly (no drain). */
  async function proxied(n: number): Promise<Array<{ p: WorkProvider; proxy: TcpProxy; address: string }>> {
    const out = [];
    for (const p of await providers(n)) {
      const proxy = defer(await TcpProxy.start(p.port), (x) => x.close());
      out.push({ p, proxy, address: proxy.address });
    }
    return out;
  }

  const whoCalled = (ps: WorkProvider[], method: string): Record<string, number> =>
    Object.fromEntries(ps.map((p) => [p.name, p.impl.count(method)]).filter(([, n]) => n !== 0));

  describe('sticky', () => {
    it('stays on one provider, moves when it shuts down (server.close), and stays on the new one', async () => {
      const ps = await providers(3);
      const client = defer(newClient(undefined, { random: mulberry32(11), reconnect: FAST_RECONNECT }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address), sticky: true });

      const before = [];
      for (let i = 0; i < 30; i++) before.push(await work.whoami());
      before.push(...(await Promise.all(Array.from({ length: 30 }, () => work.whoami()))));
      const first = before[0]!;
      expect(tally(before)).toEqual({ [first]: 60 });

      await ps.find((p) => p.name === first)!.close();
      const after = [];
      for (let i = 0; i < 30; i++) after.push(await work.whoami());
      after.push(...(await Promise.all(Array.from({ length: 30 }, () => work.whoami()))));
      const second = after[0]!;
      expect(second).not.toBe(first);
      expect(tally(after)).toEqual({ [second]: 60 });
    });

    it('moves when its provider dies abruptly (connection dropped, port closed) and stays on the new one', async () => {
      const ps = await proxied(3);
      const client = defer(newClient(undefined, { random: mulberry32(12), reconnect: FAST_RECONNECT }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((x) => x.address), sticky: true });
      const before = [];
      for (let i = 0; i < 20; i++) before.push(await work.whoami());
      const first = before[0]!;
      expect(tally(before)).toEqual({ [first]: 20 });

      const dead = ps.find((x) => x.p.name === first)!;
      await dead.proxy.close();
      await waitFor(() => !client.connections().some((c) => c.address === dead.address && c.state === 'ready'), 2000, 'the client to notice');
      const after = [];
      for (let i = 0; i < 20; i++) after.push(await work.whoami());
      const second = after[0]!;
      expect(second).not.toBe(first);
      expect(tally(after)).toEqual({ [second]: 20 });
    });

    it('without sticky, calls spread over providers', async () => {
      const ps = await providers(3);
      const client = defer(newClient(undefined, { random: mulberry32(13) }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address) });
      const served = tally(await Promise.all(Array.from({ length: 300 }, () => work.whoami())));
      expect(Object.keys(served).sort()).toEqual(['a', 'b', 'c']);
    });
  });

  describe('failover', () => {
    it('a non-idempotent call that times out is attempted exactly once', async () => {
      const ps = await providers(3);
      for (const p of ps) p.impl.stallMs = 400;
      const client = defer(newClient(undefined, { retries: 2 }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address), timeout: 100 });
      const started = performance.now();
      const err = await expectCode(work.slow(1), 'TIMEOUT');
      expect(err.retrySafe).toBe(false);
      expect(performance.now() - started).toBeLessThan(600);
      await sleep(100);
      expect(ps.reduce((n, p) => n + p.impl.count('slow'), 0)).toBe(1);
    });

    it('an idempotent call whose provider stalls is retried on another provider within the call timeout', async () => {
      // roundrobin picks a first; a stalls, b and c answer at once.
      const ps = await providers(3);
      ps[0]!.impl.stallMs = 2000;
      const client = defer(newClient(undefined, { loadbalance: 'roundrobin', retries: 2 }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address), timeout: 600 });
      const started = performance.now();
      const result = await work.slowIdem(1).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(ps[0]!.impl.count('slowIdem')).toBe(1);
      expect(String(result), `got ${String(result)} after ${Math.round(elapsed)} ms; tried ${JSON.stringify(whoCalled(ps, 'slowIdem'))}`).toMatch(/^[bc]$/);
      expect(elapsed).toBeLessThan(800);
    });

    it('an idempotent call that times out everywhere is tried on several providers, all within the call timeout', async () => {
      const ps = await providers(3);
      for (const p of ps) p.impl.stallMs = 2000;
      const client = defer(newClient(undefined, { retries: 2 }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address), timeout: 300 });
      const started = performance.now();
      await expectCode(work.slowIdem(1), 'TIMEOUT');
      expect(performance.now() - started).toBeLessThan(550);
      const tried = whoCalled(ps, 'slowIdem');
      expect(Object.keys(tried).length, `tried ${JSON.stringify(tried)}`).toBeGreaterThanOrEqual(2);
      expect(Object.values(tried).every((n) => n === 1)).toBe(true);
    });

    it('a connection lost after the request was written: idempotent calls are retried elsewhere, others fail with CONNECTION_LOST_WRITTEN', async () => {
      for (const idempotent of ['contract', 'reference', 'no'] as const) {
        const ps = await proxied(2);
        const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
        const work = client.refer(Work, {
          providers: ps.map((x) => x.address),
          timeout: 3000,
          ...(idempotent === 'reference' ? { methods: { slow: { idempotent: true } } } : {}),
        });
        const method = idempotent === 'contract' ? 'slowIdem' : 'slow';
        ps[0]!.p.impl.stallMs = 5000; // a runs the call until its connection is cut
        const call = work[method](1).catch((e: unknown) => e);
        await waitFor(() => ps[0]!.p.impl.count(method) === 1, 1000, 'the call to reach a');
        ps[0]!.proxy.reset();
        const outcome = await call;
        if (idempotent === 'no') {
          expect(outcome).toBeInstanceOf(HeartlineError);
          expect((outcome as HeartlineError).code).toBe('CONNECTION_LOST_WRITTEN');
          expect(ps[1]!.p.impl.count(method)).toBe(0);
        } else {
          expect(outcome, `idempotent via ${idempotent}`).toBe('b');
          expect(ps[1]!.p.impl.count(method)).toBe(1);
        }
      }
    });

    it('a provider that is gone (connection refused) is skipped transparently', async () => {
      const [a] = await providers(1);
      const dead = `127.0.0.1:${await freePort()}`;
      // roundrobin over equal weights tries the first listed (dead) first.
      const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
      const work = client.refer(Work, { providers: [dead, a!.address] });
      expect(await work.whoami()).toBe('a');
      const results = await Promise.all(Array.from({ length: 50 }, () => work.whoami()));
      expect(results.every((r) => r === 'a')).toBe(true);
      // A fresh client with random balancing: every call succeeds as well.
      const other = defer(newClient(undefined, { random: mulberry32(14) }), (c) => c.close());
      const w2 = other.refer(Work, { providers: [dead, a!.address] });
      expect((await Promise.all(Array.from({ length: 50 }, () => w2.whoami()))).every((r) => r === 'a')).toBe(true);
    });

    it('a provider without the service (SERVICE_NOT_FOUND) is skipped', async () => {
      const empty = defer(await startWorkProvider('empty', { register: false }), (p) => p.close());
      const [a] = await providers(1);
      const client = defer(newClient(undefined, { loadbalance: 'roundrobin' }), (c) => c.close());
      const work = client.refer(Work, { providers: [empty.address, a!.address] });
      expect(await work.whoami()).toBe('a');
    });

    it('retries set per method (reference methods) win over the reference and client', async () => {
      const empty = defer(await startWorkProvider('empty', { register: false }), (p) => p.close());
      const [a] = await providers(1);
      const client = defer(newClient(undefined, { loadbalance: 'roundrobin', retries: 2 }), (c) => c.close());
      const work = client.refer(Work, { providers: [empty.address, a!.address], retries: 2, methods: { whoami: { retries: 0 } } });
      await expectCode(work.whoami(), 'SERVICE_NOT_FOUND'); // roundrobin tried empty first, and no retry
      expect(await work.record('x')).toBe('a'); // other methods keep the reference's retries (empty first, then a)
      expect(a!.impl.count('whoami')).toBe(0);
    });

    it('HANDLER_ERROR is never retried', async () => {
      const ps = await providers(3);
      const client = defer(newClient(undefined, { retries: 5 }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address), methods: { boom: { idempotent: true } } });
      const err = await expectCode(work.boom(), 'HANDLER_ERROR');
      expect(err.remoteName).toBe('WorkFailure');
      await sleep(20);
      expect(ps.reduce((n, p) => n + p.impl.count('boom'), 0)).toBe(1);
    });

    it('retries bounds the number of providers tried', async () => {
      const empties: WorkProvider[] = [];
      for (let i = 0; i < 4; i++) empties.push(defer(await startWorkProvider(`e${i}`, { register: false }), (p) => p.close()));
      for (const [retries, expected] of [[2, 3], [0, 1]] as const) {
        const client = defer(newClient(undefined, { retries }), (c) => c.close());
        const before = empties.map((p) => p.server.connectionsAccepted);
        await expectCode(client.refer(Work, { providers: empties.map((p) => p.address) }).whoami(), 'SERVICE_NOT_FOUND');
        // Connections are lazy: a provider got one only if it was tried.
        const tried = empties.filter((p, i) => p.server.connectionsAccepted > before[i]!).length;
        expect(tried, `retries ${retries}`).toBe(expected);
      }
    });
  });

  describe('failfast and failsafe', () => {
    it('failfast makes exactly one attempt', async () => {
      const empty = defer(await startWorkProvider('empty', { register: false }), (p) => p.close());
      const [a] = await providers(1);
      const client = defer(newClient(undefined, { loadbalance: 'roundrobin', cluster: 'failfast' }), (c) => c.close());
      const work = client.refer(Work, { providers: [empty.address, a!.address] });
      await expectCode(work.whoami(), 'SERVICE_NOT_FOUND');
      expect(a!.server.connectionsAccepted).toBe(0);

      const dead = `127.0.0.1:${await freePort()}`;
      const toDead = client.refer(Work, { providers: [dead, a!.address] });
      await expectCode(toDead.whoami(), 'CONNECT_FAILED');
      expect(a!.impl.count('whoami')).toBe(0);
      // The reference option wins over the client's.
      expect(await client.refer(Work, { providers: [empty.address, a!.address], cluster: 'failover' }).whoami()).toBe('a');
    });

    it('failsafe returns undefined instead of failing, after one attempt', async () => {
      const ps = await providers(2);
      const client = defer(newClient(undefined, { cluster: 'failsafe' }), (c) => c.close());
      const work = client.refer(Work, { providers: ps.map((p) => p.address) });
      expect(await work.boom()).toBeUndefined();
      expect(ps[0]!.impl.count('boom') + ps[1]!.impl.count('boom')).toBe(1);
      expect(await work.whoami()).toMatch(/^[ab]$/); // successes are untouched
      const nowhere = client.refer(Work, { providers: [`127.0.0.1:${await freePort()}`] });
      expect(await nowhere.whoami()).toBeUndefined();
    });
  });
});

afterAll(() => expectNothingOpen());
