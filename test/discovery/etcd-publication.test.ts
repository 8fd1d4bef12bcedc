// EtcdPublication against a scripted etcd client (no server): what it writes when an update
// races a registration, and which failures it acts on.
import { describe, expect, it } from 'vitest';
import { EtcdPublication } from '../../src/discovery/etcd-publication.js';
import type { EtcdHost } from '../../src/discovery/etcd-host.js';
import type { Announcement } from '../../src/provider/publisher.js';
import { silentLogger } from '../../src/index.js';

const announcement = (services: string[]): Announcement => ({
  address: '10.0.0.1:20880',
  weight: 100,
  pid: 1,
  startTime: '2026-11-26T00:00:00.000Z',
  metadata: {},
  services: services.map((service) => ({ service, version: '', group: '', methods: ['m'] })),
});

/** A fake etcd3 client: leases whose puts record their keys and may run a hook first. */
function fakeEtcd(onPut?: (key: string) => void) {
  const puts: string[] = [];
  const released: number[] = [];
  let leases = 0;
  const client = {
    lease: () => {
      const id = ++leases;
      return {
        id,
        on: () => undefined,
        grant: async () => undefined,
        put: (key: string) => ({
          value: () => ({
            exec: async () => {
              onPut?.(key);
              await Promise.resolve();
              puts.push(key);
            },
          }),
        }),
        release: () => void released.push(id),
        revoke: async () => undefined,
      };
    },
  };
  const host: EtcdHost = {
    client: async () => client as never,
    ttlSeconds: 10,
    logger: silentLogger,
    reportUp: () => undefined,
    reportDown: () => undefined,
    closed: false,
  };
  return { host, puts, released, leaseCount: () => leases };
}

describe('EtcdPublication', () => {
  it('an update that lands while the registration writes is written too (not left until the next lease loss)', async () => {
    let publication: EtcdPublication | undefined;
    let raced = false;
    const etcd = fakeEtcd(() => {
      if (!raced && publication !== undefined) {
        raced = true;
        publication.update(announcement(['a.Echo', 'a.Greeter'])); // a service registered meanwhile
      }
    });
    publication = new EtcdPublication(etcd.host, '/hl', announcement(['a.Echo']), () => undefined);
    await publication.first;
    expect(etcd.puts.some((k) => k.includes('a.Greeter'))).toBe(true);
    await publication.withdraw();
  });

  it('updates while registered are written in order, each with the latest announcement', async () => {
    const etcd = fakeEtcd();
    const publication = new EtcdPublication(etcd.host, '/hl', announcement(['a.Echo']), () => undefined);
    await publication.first;
    publication.update(announcement(['a.Echo', 'b.One']));
    publication.update(announcement(['a.Echo', 'b.One', 'c.Two']));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(etcd.puts.filter((k) => k.includes('c.Two'))).toHaveLength(2); // both queued writes read the latest
    await publication.withdraw();
  });
});
