// EtcdRegistry against a real etcd: register and discover, version and group
// filtering, weights changed in etcd at run time, the key layout, advertise,
// the registry's own state. Leases use TEST_TTL (2 s; the default is 10 s).
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, EtcdRegistry, Server, silentLogger, type Logger, type RegistryStatus } from '../../src/index.js';
import { expectNothingOpen, Work, WorkImpl } from '../cluster/cluster-helpers.js';
import { etcdAvailable, startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { useCleanup, waitFor } from '../helpers/server.js';
import { addresses, startEtcdChild, testRegistry } from './etcd-helpers.js';

describe.skipIf(!etcdAvailable())('EtcdRegistry (real etcd)', () => {
  const defer = useCleanup();
  let etcd: EtcdServer;
  let raw: Etcd3;

  beforeAll(async () => {
    etcd = await startEtcd();
    raw = new Etcd3({ hosts: etcd.hosts });
  });
  afterAll(async () => {
    raw?.close();
    await etcd?.dispose();
  });

  it('register and discover: child providers publish on listen, a consumer calls them all through the registry', async () => {
    const children = await Promise.all(['a', 'b'].map((name) => startEtcdChild({ hosts: etcd.hosts, name })));
    defer(children, (cs) => Promise.all(cs.map((c) => c.dispose())));
    const registry = defer(testRegistry(etcd.hosts), (r) => r.close());
    const client = defer(new Client({ registry, logger: silentLogger }), (c) => c.close());
    const work = client.refer(Work);
    // The first call waits for the registry's first answer instead of failing UNAVAILABLE.
    expect(['a', 'b']).toContain(await work.whoami());
    const seen = new Set<string>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(await work.whoami());
    expect([...seen].sort()).toEqual(['a', 'b']);

    // The documented key layout and JSON value.
    const kvs = await raw.getAll().prefix('/heartline/cluster.Work/').strings();
    expect(Object.keys(kvs).sort()).toEqual(children.map((c) => `/heartline/cluster.Work///providers/${c.address}`).sort());
    const record = JSON.parse(kvs[`/heartline/cluster.Work///providers/${children[0]!.address}`]!);
    expect(record).toMatchObject({ address: children[0]!.address, weight: 100, service: 'cluster.Work', version: '', group: '', metadata: { name: 'a' } });
    expect(record.methods).toContain('whoami');
    expect(record.pid).toBe(children[0]!.child.pid);
    expect(Number.isNaN(Date.parse(record.startTime))).toBe(false);
    expect(client.registries()).toEqual([expect.objectContaining({ name: `etcd ${etcd.hosts} /heartline`, state: 'up' })]);
  });

  it('version and group filtering: a reference sees only the providers of its version and group', async () => {
    const children = await Promise.all([
      startEtcdChild({ hosts: etcd.hosts, name: 'v1', version: '1.0.0' }),
      startEtcdChild({ hosts: etcd.hosts, name: 'v2', version: '2.0.0' }),
      startEtcdChild({ hosts: etcd.hosts, name: 'v2-blue', version: '2.0.0', group: 'blue' }),
    ]);
    defer(children, (cs) => Promise.all(cs.map((c) => c.dispose())));
    const registry = defer(testRegistry(etcd.hosts), (r) => r.close());
    const client = defer(new Client({ logger: silentLogger }), (c) => c.close());
    const refs = {
      v1: client.refer(Work, { registry, version: '1.0.0' }),
      v2: client.refer(Work, { registry, version: '2.0.0' }),
      blue: client.refer(Work, { registry, version: '2.0.0', group: 'blue' }),
    };
    for (let i = 0; i < 10; i++) {
      expect(await refs.v1.whoami()).toBe('v1');
      expect(await refs.v2.whoami()).toBe('v2');
      expect(await refs.blue.whoami()).toBe('v2-blue');
    }
    expect(addresses(registry.directory('cluster.Work', '2.0.0', 'blue').list())).toEqual([children[2]!.address]);
    // The same three strings give the same Directory: the client follows it once.
    expect(registry.directory('cluster.Work', '2.0.0', 'blue')).toBe(registry.directory('cluster.Work', '2.0.0', 'blue'));
  });

  it('a weight changed in etcd (the weights/ key, as with etcdctl put) takes effect without a restart, and deleting it restores the record', async () => {
    const servers = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const registry = defer(testRegistry(etcd.hosts), (r) => r.close());
        const server = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, deregisterDelay: 0 }), (s) => s.close());
        server.register(new WorkImpl(name), { version: 'w' }).publish(registry);
        const { port } = await server.listen();
        return `127.0.0.1:${port}`;
      }),
    );
    const registry = defer(testRegistry(etcd.hosts), (r) => r.close());
    const client = defer(new Client({ registry, logger: silentLogger, loadbalance: 'roundrobin' }), (c) => c.close());
    const work = client.refer(Work, { version: 'w' });
    const share = async (n: number): Promise<Record<string, number>> => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const who = await work.whoami();
        counts[who] = (counts[who] ?? 0) + 1;
      }
      return counts;
    };
    expect(await share(20)).toEqual({ a: 10, b: 10 });

    const dir = registry.directory('cluster.Work', 'w', '');
    await raw.put(`/heartline/cluster.Work/w//weights/${servers[1]}`).value('0');
    await waitFor(() => dir.list().find((p) => p.address.key === servers[1])?.weight === 0, 3000, 'the new weight');
    expect(await share(20)).toEqual({ a: 20 });

    await raw.put(`/heartline/cluster.Work/w//weights/${servers[1]}`).value('300');
    await waitFor(() => dir.list().find((p) => p.address.key === servers[1])?.weight === 300, 3000, 'the new weight');
    expect(await share(20)).toEqual({ a: 5, b: 15 });

    await raw.delete().key(`/heartline/cluster.Work/w//weights/${servers[1]}`);
    await waitFor(() => dir.list().find((p) => p.address.key === servers[1])?.weight === 100, 3000, 'the record weight again');
    expect(await share(20)).toEqual({ a: 10, b: 10 });
  });

  it('a bad value in etcd is ignored with a warning, never breaking the list', async () => {
    const warnings: string[] = [];
    const logger: Logger = { warn: (_fields, m) => warnings.push(m), error: (_fields, m) => warnings.push(m) };
    const registry = defer(new EtcdRegistry({ hosts: etcd.hosts, logger }), (r) => r.close());
    const dir = registry.directory('bad.Service', '', '');
    const stop = dir.subscribe(() => {});
    defer(stop, (s) => s());
    await raw.put('/heartline/bad.Service///providers/127.0.0.1:1').value('{not json');
    await raw.put('/heartline/bad.Service///providers/127.0.0.1:2').value(JSON.stringify({ address: '127.0.0.1:2', weight: 5 }));
    await raw.put('/heartline/bad.Service///weights/127.0.0.1:2').value('heavy');
    await waitFor(() => dir.list().length === 1 && warnings.length >= 2, 3000, 'the good record');
    expect(dir.list()[0]).toMatchObject({ weight: 5 });
    expect(warnings.join('\n')).toContain('not JSON');
    expect(warnings.join('\n')).toContain('"heavy"');
  });

  it('advertise: a wildcard bind publishes a guessed interface with a warning; the option wins', async () => {
    const warnings: string[] = [];
    const logger: Logger = { warn: (_fields, m) => warnings.push(m), error: () => {} };
    const registry = defer(testRegistry(etcd.hosts), (r) => r.close());
    const guessed = defer(new Server({ port: 0, logger, registry, deregisterDelay: 0 }), (s) => s.close());
    guessed.register(new WorkImpl('g'), { version: 'adv' });
    const { port } = await guessed.listen();
    expect(warnings.some((w) => w.includes('set the advertise option'))).toBe(true);
    const named = defer(new Server({ port: 0, logger, registry, advertise: 'provider.example:7000', deregisterDelay: 0 }), (s) => s.close());
    named.register(new WorkImpl('n'), { version: 'adv' });
    await named.listen();
    const keys = Object.keys(await raw.getAll().prefix('/heartline/cluster.Work/adv//providers/').strings()).map((k) => k.split('/').pop());
    expect(keys).toContain('provider.example:7000');
    expect(keys.some((k) => k !== 'provider.example:7000' && k!.endsWith(`:${port}`) && !k!.startsWith('0.0.0.0'))).toBe(true);
  });

  it('server.publish() after listen, and a service registered after listen, are published', async () => {
    const registry = defer(testRegistry(etcd.hosts), (r) => r.close());
    const server = defer(new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, deregisterDelay: 0 }), (s) => s.close());
    server.register(new WorkImpl('late'), { version: 'late1' });
    const { port } = await server.listen();
    server.publish(registry, { weight: 7 });
    server.register(new WorkImpl('later'), { version: 'late2' });
    const dir1 = registry.directory('cluster.Work', 'late1', '');
    const dir2 = registry.directory('cluster.Work', 'late2', '');
    defer(dir1.subscribe(() => {}), (s) => s());
    defer(dir2.subscribe(() => {}), (s) => s());
    await waitFor(() => dir1.list().length === 1 && dir2.list().length === 1, 3000, 'both versions');
    expect(dir1.list()[0]).toMatchObject({ address: { key: `127.0.0.1:${port}` }, weight: 7 });
    await server.close();
    await waitFor(() => dir1.list().length === 0 && dir2.list().length === 0, 3000, 'withdrawn on close');
  });

  it('the registry state is visible: client.registries() and the client\'s registry event', async () => {
    const registry = defer(new EtcdRegistry({ hosts: 'http://127.0.0.1:1', logger: silentLogger, requestTimeout: 500 }), (r) => r.close());
    const client = defer(new Client({ registry, logger: silentLogger, timeout: 600 }), (c) => c.close());
    const events: RegistryStatus[] = [];
    client.on('registry', (s) => events.push(s));
    const work = client.refer(Work);
    expect(client.registries()[0]!.state).toBe('connecting');
    const err = await work.whoami().catch((e: unknown) => e as Error);
    expect((err as { code?: string }).code).toBe('UNAVAILABLE');
    expect((err as Error).message).toContain('the registry has not answered yet');
    expect(client.registries()[0]).toMatchObject({ state: 'down' });
    expect(client.registries()[0]!.lastError).toBeTruthy();
    expect(events.map((e) => e.state)).toContain('down');
  });
});

// Every etcd client, watch, lease timer, socket and child process is gone.
afterAll(() => expectNothingOpen(3000));
