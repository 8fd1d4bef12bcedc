// Scale: 50 providers x 20 services on one etcd (1000 leased keys, published
// directly through EtcdRegistry.publish, one lease per provider) and 10
// consumers (10 etcd clients) following all 20 services (200 watches).
// Measures the time from a change in etcd to every consumer seeing it; the
// README quotes the figures this prints.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Announcement, Directory, EtcdRegistry, Publication } from '../../src/index.js';
import { etcdAvailable, startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { testRegistry } from './etcd-helpers.js';

const PROVIDERS = 50;
const SERVICES = 20;
const CONSUMERS = 10;
const PUBLISHERS = 5;
const ROUNDS = 5;

const services = Array.from({ length: SERVICES }, (_, i) => `scale.Service${i}`);

function announcement(i: number): Announcement {
  return {
    address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:20880`,
    weight: 100,
    pid: 1000 + i,
    startTime: new Date().toISOString(),
    metadata: { zone: `z${i % 3}` },
    services: services.map((service) => ({ service, version: '1.0.0', group: '', methods: ['get', 'put'] })),
  };
}

describe.skipIf(!etcdAvailable())('etcd at scale: 50 providers x 20 services', () => {
  let etcd: EtcdServer;
  const registries: EtcdRegistry[] = [];
  const unsubscribe: Array<() => void> = [];

  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    for (const u of unsubscribe) u();
    await Promise.all(registries.map((r) => r.close()));
    await etcd?.dispose();
  });

  it('a change reaches every consumer (10 consumers x 20 services) within a few hundred ms', async () => {
    const publishers = Array.from({ length: PUBLISHERS }, () => testRegistry(etcd.hosts, 10_000));
    const consumers = Array.from({ length: CONSUMERS }, () => testRegistry(etcd.hosts, 10_000));
    registries.push(...publishers, ...consumers);
    // Every directory of every consumer; `check` runs on each change any of them reports.
    const dirs: Directory[] = consumers.flatMap((r) => services.map((s) => r.directory(s, '1.0.0', '')));
    let check: () => void = () => {};
    for (const d of dirs) unsubscribe.push(d.subscribe(() => check()));
    const when = (predicate: () => boolean): Promise<number> => {
      const t0 = performance.now();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('not seen by every consumer within 20 s')), 20_000);
        check = () => {
          if (!predicate()) return;
          check = () => {};
          clearTimeout(timer);
          resolve(performance.now() - t0);
        };
        check();
      });
    };
    const everyList = (n: number) => () => dirs.every((d) => d.list().length === n);

    const started = performance.now();
    const publications: Publication[] = [];
    const seenAll = when(everyList(PROVIDERS));
    for (let i = 0; i < PROVIDERS; i++) publications.push(publishers[i % PUBLISHERS]!.publish(announcement(i)));
    await Promise.all(publications.map((p) => p.first));
    const initial = await seenAll;
    expect(performance.now() - started).toBeLessThan(20_000);

    // A provider leaves (its lease revoked: 20 keys deleted at once), then comes back (a new lease, 20 keys).
    const leave: number[] = [];
    const join: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const i = r * 7;
      const gone = when(everyList(PROVIDERS - 1));
      await publications[i]!.withdraw();
      leave.push(await gone);
      const back = when(everyList(PROVIDERS));
      publications[i] = publishers[i % PUBLISHERS]!.publish(announcement(i));
      join.push(await back);
    }

    // An operator's weight (one weights/ key, as etcdctl put would write it).
    const raw = new Etcd3({ hosts: etcd.hosts });
    const weight: number[] = [];
    try {
      for (let r = 0; r < ROUNDS; r++) {
        const address = announcement(r).address;
        const w = 10 + r;
        const target = consumers.map((c) => c.directory(services[r]!, '1.0.0', ''));
        const seen = when(() => target.every((d) => d.list().find((p) => p.address.key === address)?.weight === w));
        await raw.put(`/heartline/${services[r]}/1.0.0//weights/${address}`).value(String(w));
        weight.push(await seen);
      }
    } finally {
      raw.close();
    }
    await Promise.all(publications.map((p) => p.withdraw()));

    const fmt = (xs: number[]): string => {
      const s = [...xs].sort((a, b) => a - b);
      return `median ${Math.round(s[Math.floor(s.length / 2)]!)} ms, max ${Math.round(s[s.length - 1]!)} ms`;
    };
    console.log(
      [
        `scale: ${PROVIDERS} providers x ${SERVICES} services (${PROVIDERS * SERVICES} keys), ${CONSUMERS} consumers x ${SERVICES} watches`,
        `  initial registration seen by all: ${Math.round(initial)} ms`,
        `  provider leaves (revoke) -> all ${CONSUMERS * SERVICES} lists updated: ${fmt(leave)}`,
        `  provider joins (new lease) -> all lists updated: ${fmt(join)}`,
        `  weight put in etcd -> all ${CONSUMERS} consumers: ${fmt(weight)}`,
      ].join('\n'),
    );
    for (const ms of [...leave, ...join, ...weight]) expect(ms).toBeLessThan(2000);
  }, 60_000);
});
