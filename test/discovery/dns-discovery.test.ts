// DnsDirectory end to end: a tiny UDP DNS server written for the test
// (helpers/dns-responder.ts), node:dns resolvers pointed at it, and real
// Heartline providers on loopback addresses (127.0.0.1, .2, .3 share a port,
// as the pods of a headless service do).
import { Resolver } from 'node:dns';
import { Resolver as PromiseResolver } from 'node:dns/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { DnsDirectory, DnsDirectoryState, silentLogger, type DnsDirectoryOptions } from '../../src/index.js';
import { expectNothingOpen, FAST_RECONNECT, sleep, startWorkProvider, tally, Work, type WorkProvider } from '../cluster/cluster-helpers.js';
import { startDnsResponder, type DnsResponder } from '../helpers/dns-responder.js';
import { expectCode, newClient, useCleanup, waitFor } from '../helpers/server.js';

describe('DnsDirectory against a DNS server and real providers', () => {
  const defer = useCleanup();

  /** A provider of cluster.Work named `name` on `host` (port 0 picks one). */
  async function provider(name: string, host: string, port = 0): Promise<WorkProvider & { at: string }> {
    const p = defer(await startWorkProvider(name, { port, server: { host } }), (w) => w.close());
    return { ...p, at: `${host}:${p.port}` };
  }

  async function dnsServer(): Promise<DnsResponder> {
    return defer(await startDnsResponder(), (r) => r.close());
  }

  function directory(responder: DnsResponder, options: Partial<DnsDirectoryOptions>): DnsDirectory {
    const resolver = new Resolver({ timeout: 100, tries: 1 });
    resolver.setServers([responder.server]);
    return defer(new DnsDirectory({ name: 'work.test', family: 4, resolver, logger: silentLogger, ...options }), (d) => d.close());
  }

  const calls = async (work: { whoami(): Promise<string> }, n = 10): Promise<Record<string, number>> => tally(await Promise.all(Array.from({ length: n }, () => work.whoami())));

  it('A records: calls reach the providers the name resolves to; the lookups stop with the client', async () => {
    const a = await provider('a', '127.0.0.1');
    const b = await provider('b', '127.0.0.2', a.port);
    const dns = await dnsServer();
    dns.table.set('work.test', { A: ['127.0.0.2', '127.0.0.1'] });
    const directory = new DnsDirectory({ name: 'work.test', port: a.port, resolver: withServer(dns), logger: silentLogger, refreshInterval: 50, minInterval: 10 });
    defer(directory, (d) => d.close());
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin' }), (c) => c.close());
    expect((await directory.ready()).map((p) => p.address.key)).toEqual([a.at, b.at]);
    const work = client.refer(Work, { providers: directory });
    expect(await calls(work)).toEqual({ a: 5, b: 5 });
    expect(directory.state).not.toBe(DnsDirectoryState.Stopped);
    await client.close();
    expect(directory.state).toBe(DnsDirectoryState.Stopped);
    const seen = dns.queries.length;
    await sleep(200); // four refresh intervals
    expect(dns.queries.length).toBe(seen);
  });

  it('the first calls need no ready(): they wait for the first answer within their timeout', async () => {
    const a = await provider('a', '127.0.0.1');
    const dns = await dnsServer();
    dns.table.set('work.test', { A: ['127.0.0.1'] });
    const directory = new DnsDirectory({ name: 'work.test', port: a.port, resolver: withServer(dns), logger: silentLogger, refreshInterval: 60_000, minInterval: 10 });
    defer(directory, (d) => d.close());
    const client = defer(newClient(undefined), (c) => c.close());
    const work = client.refer(Work, { providers: directory }); // starts the first lookup
    expect(directory.loading()).toBeDefined();
    expect(await calls(work, 4)).toEqual({ a: 4 });
    expect(directory.loading()).toBeUndefined();
  });

  it('a call waiting for the first answer fails CLIENT_CLOSED at once when the client closes, and opens nothing afterwards', async () => {
    const a = await provider('a', '127.0.0.1');
    let answer: ((addresses: string[]) => void) | undefined;
    const resolver = { resolve4: () => new Promise<string[]>((resolve) => (answer = resolve)), resolve6: async () => [], resolveSrv: async () => [] };
    const directory = new DnsDirectory({ name: 'work.test', port: a.port, family: 4, resolver, logger: silentLogger });
    defer(directory, (d) => d.close());
    const client = newClient(undefined, { timeout: 5000 });
    const call = client.refer(Work, { providers: directory }).whoami();
    call.catch(() => undefined);
    await waitFor(() => answer !== undefined, 2000, 'the lookup to start');
    const t0 = performance.now();
    await client.close();
    await expectCode(call, 'CLIENT_CLOSED');
    expect(performance.now() - t0).toBeLessThan(1000); // not after the call's 5 s timeout
    answer!(['127.0.0.1']);
    await sleep(100);
    expect(client.connections()).toEqual([]);
    expect(a.server.connectionCount).toBe(0);
  });

  it('SRV records: each target with its own port', async () => {
    const a = await provider('a', '127.0.0.1');
    const b = await provider('b', '127.0.0.1');
    const dns = await dnsServer();
    dns.table.set('_work._tcp.svc.test', { SRV: [{ target: 'a.svc.test', port: a.port }, { target: 'b.svc.test', port: b.port }] });
    dns.table.set('a.svc.test', { A: ['127.0.0.1'] });
    dns.table.set('b.svc.test', { A: ['127.0.0.1'] });
    const resolver = new PromiseResolver({ timeout: 100, tries: 1 });
    resolver.setServers([dns.server]);
    const directory = defer(new DnsDirectory({ name: '_work._tcp.svc.test', srv: true, resolver, logger: silentLogger }), (d) => d.close());
    await directory.ready();
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin' }), (c) => c.close());
    const work = client.refer(Work, { providers: directory });
    expect(await calls(work)).toEqual({ a: 5, b: 5 });
    expect(dns.count('_work._tcp.svc.test', 'SRV')).toBe(1);
    expect(dns.count('a.svc.test', 'AAAA')).toBe(1); // family 0 (default): A and AAAA; NODATA for AAAA is no error
  });

  it('the records change: an added provider gets calls, a removed one is retired and never reconnected', async () => {
    const a = await provider('a', '127.0.0.1');
    const b = await provider('b', '127.0.0.2', a.port);
    const dns = await dnsServer();
    dns.table.set('work.test', { A: ['127.0.0.1'] });
    const dir = directory(dns, { port: a.port, refreshInterval: 100, minInterval: 20 });
    await dir.ready();
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = client.refer(Work, { providers: dir });
    expect(await calls(work)).toEqual({ a: 10 });

    dns.table.set('work.test', { A: ['127.0.0.1', '127.0.0.2'] });
    await waitFor(() => dir.list().length === 2, 2000, 'b in the list');
    expect(await calls(work)).toEqual({ a: 5, b: 5 });

    dns.table.set('work.test', { A: ['127.0.0.2'] });
    await waitFor(() => a.server.connectionCount === 0, 2000, 'a to be retired');
    expect(await calls(work)).toEqual({ b: 10 });
    await sleep(300); // several refreshes and reconnect delays
    expect(a.server.connectionsAccepted).toBe(1);
    expect(client.connections().map((c) => c.address)).toEqual([b.at]);
  });

  it('a failing DNS (silent, SERVFAIL) keeps the last list and calls go on; NXDOMAIN empties it', async () => {
    const a = await provider('a', '127.0.0.1');
    const b = await provider('b', '127.0.0.2', a.port);
    const dns = await dnsServer();
    dns.table.set('work.test', { A: ['127.0.0.1', '127.0.0.2'] });
    const dir = directory(dns, { port: a.port, refreshInterval: 50, minInterval: 20 });
    await dir.ready();
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin' }), (c) => c.close());
    const work = client.refer(Work, { providers: dir });
    expect(await calls(work)).toEqual({ a: 5, b: 5 });

    for (const mode of ['silent', 'servfail'] as const) {
      dns.mode = mode;
      const before = dns.count('work.test', 'A');
      await waitFor(() => dns.count('work.test', 'A') >= before + 3, 3000, `three lookups while ${mode}`);
      expect(dir.list()).toHaveLength(2);
      expect(await calls(work)).toEqual({ a: 5, b: 5 });
    }

    dns.mode = 'answer';
    dns.table.delete('work.test');
    await waitFor(() => dir.list().length === 0, 2000, 'the list to empty on NXDOMAIN');
    await expectCode(work.whoami(), 'UNAVAILABLE');
    await waitFor(() => a.server.connectionCount === 0 && b.server.connectionCount === 0, 2000, 'both retired');
  });

  it('a connection failure to a listed address makes it look again at once (rate-limited), not at the next refresh', async () => {
    const a = await provider('a', '127.0.0.1');
    const dns = await dnsServer();
    // 127.0.0.3 has nothing listening: its pod is gone, and DNS already knows.
    dns.table.set('work.test', { A: ['127.0.0.1', '127.0.0.3'] });
    const dir = directory(dns, { port: a.port, refreshInterval: 60_000, minInterval: 100 });
    await dir.ready();
    dns.table.set('work.test', { A: ['127.0.0.1'] });
    const client = defer(newClient(undefined, { loadbalance: 'roundrobin', reconnect: FAST_RECONNECT }), (c) => c.close());
    const work = client.refer(Work, { providers: dir });
    expect(await calls(work)).toEqual({ a: 10 }); // the attempt on .3 fails CONNECT_FAILED and goes to a
    await waitFor(() => dir.list().length === 1, 2000, 'the dead address to leave the list');
    expect(dir.list()[0]!.address.key).toBe(a.at);
    // Connect failures every 50-200 ms (reconnect backoff) until it left the list, but lookups at most every 100 ms.
    await sleep(300);
    expect(dns.count('work.test', 'A')).toBeLessThanOrEqual(3);
    expect(dns.count('work.test', 'A')).toBeGreaterThanOrEqual(2);
  });

  it('client.release(stub) stops the lookups when no other reference follows the directory', async () => {
    const a = await provider('a', '127.0.0.1');
    const dns = await dnsServer();
    dns.table.set('work.test', { A: ['127.0.0.1'] });
    const dir = directory(dns, { port: a.port, refreshInterval: 50, minInterval: 10 });
    await dir.ready();
    const client = defer(newClient(undefined), (c) => c.close());
    const one = client.refer(Work, { providers: dir });
    const two = client.refer(Work, { providers: dir });
    expect(await one.whoami()).toBe('a');
    client.release(one);
    expect(dir.state).not.toBe(DnsDirectoryState.Stopped);
    client.release(two);
    expect(dir.state).toBe(DnsDirectoryState.Stopped);
    await waitFor(() => a.server.connectionCount === 0, 2000, 'a to be closed');
  });
});

function withServer(dns: DnsResponder): Resolver {
  const resolver = new Resolver({ timeout: 100, tries: 1 });
  resolver.setServers([dns.server]);
  return resolver;
}

afterAll(() => expectNothingOpen());
