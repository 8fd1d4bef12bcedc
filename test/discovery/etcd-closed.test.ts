// A closed EtcdRegistry: nothing retries, nothing waits, a server still listens (no etcd needed:
// a closed registry never connects).
import { describe, expect, it } from 'vitest';
import { Client, EtcdRegistry, Server, silentLogger, type Logger } from '../../src/index.js';
import { Work, WorkImpl } from '../cluster/cluster-helpers.js';
import { expectCode, useCleanup } from '../helpers/server.js';

describe('a closed EtcdRegistry', () => {
  const defer = useCleanup();

  it('refer() with it fails at once with INVALID_CONFIG (no directory that would retry forever)', async () => {
    const registry = new EtcdRegistry({ logger: silentLogger });
    await registry.close();
    const client = defer(new Client({ registry, logger: silentLogger }), (c) => c.close());
    expect(() => client.refer(Work)).toThrow(/closed/);
  });

  it('a directory taken before close(): a call through it fails UNAVAILABLE at once instead of waiting out its timeout', async () => {
    const registry = new EtcdRegistry({ logger: silentLogger });
    const directory = registry.directory('cluster.Work', '', '');
    await registry.close();
    const client = defer(new Client({ logger: silentLogger }), (c) => c.close());
    const t0 = performance.now();
    await expectCode(client.refer(Work, { providers: directory, timeout: 3000 }).whoami(), 'UNAVAILABLE');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(directory.loading?.()).toBeUndefined();
  });

  it('a server publishing in it still listens: the failure is logged, not thrown (it is bound), and it closes cleanly', async () => {
    const registry = new EtcdRegistry({ logger: silentLogger });
    await registry.close();
    const errors: string[] = [];
    const logger: Logger = { warn: () => undefined, error: (_fields, m) => void errors.push(m) };
    const server = new Server({ host: '127.0.0.1', port: 0, logger, registry, closeGracePeriod: 100, deregisterDelay: 0 });
    server.register(new WorkImpl('a'));
    const address = await server.listen();
    expect(address.port).toBeGreaterThan(0);
    expect(errors.some((m) => m.includes('cannot publish'))).toBe(true);
    await server.close();
  });

  it('publish() on a listening server that throws can be called again (nothing left half-registered)', async () => {
    const server = new Server({ host: '127.0.0.1', port: 0, logger: silentLogger, closeGracePeriod: 100, deregisterDelay: 0 });
    server.register(new WorkImpl('a'));
    await server.listen();
    const registry = new EtcdRegistry({ logger: silentLogger });
    await registry.close();
    expect(() => server.publish(registry)).toThrow(/closed/);
    expect(() => server.publish(registry)).toThrow(/closed/); // not "already publishes"
    await server.close();
  });
});
